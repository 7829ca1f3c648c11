"""The project's own set-up: dependency lists in sync, README commands, shipped data intact."""
import hashlib
import re

import tomllib

from qd import ROOT


def _pyproject_deps():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return meta["dependencies"] + meta["optional-dependencies"]["dev"]


def _environment_pip_deps():
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    deps = []
    for line in lines[start + 1:]:
        m = re.match(r"^\s{6,}- (\S.*)$", line)
        if not m:
            break
        deps.append(m.group(1).strip())
    return deps


def test_environment_yml_matches_pyproject():
    assert _environment_pip_deps() == _pyproject_deps()


def test_torch_is_pinned_to_the_cpu_wheel():
    assert "torch==2.13.0" in _pyproject_deps()


def test_readme_starts_with_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    commands = [c.split("#")[0].strip() for c in first_block.splitlines() if c.split("#")[0].strip()]
    assert commands == ["make report", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in ("report", "test", "demo", "lab"):
        assert re.search(rf"^{target}: \$\(STAMP\)", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_shipped_data_checksums_and_size():
    data = ROOT / "data"
    listed = {}
    for line in (data / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.relative_to(data).as_posix() for p in data.rglob("*")
             if p.is_file() and p.relative_to(data).as_posix() not in ("SHA256SUMS", "README.md")}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest, name
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    assert total < 60e6
    readme = (data / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Google" in readme
    assert "MIT" in (data / "peers" / "doodlenet" / "LICENSE").read_text()


def test_nothing_reads_the_shared_folder():
    """The maintainers' source folder beside the checkout is not in a user's clone."""
    needle = "/".join(["..", "shared"])
    for folder in ("qd", "tests", "notebooks"):
        for p in (ROOT / folder).rglob("*"):
            if p.suffix in (".py", ".ipynb"):
                assert needle not in p.read_text(), p


def test_every_file_the_docs_name_exists():
    """(issue 24, point 17) the README named tests/test_scale.py and tests/test_demo_browser.py after
    they had moved."""
    docs = [ROOT / "README.md", ROOT / "Makefile", *(ROOT / "data").glob("*.md"), *(ROOT / "models").glob("*.md")]
    named = {m for p in docs for m in re.findall(r"\b((?:tests|qd|notebooks)/[\w/.-]+\.(?:py|ipynb))", p.read_text())}
    assert len(named) >= 5
    assert sorted(n for n in named if not (ROOT / n).exists()) == []
