"""template.yaml through AWS's own tools: cfn-lint (+ serverless rules), sam validate --lint, sam build.

Offline apart from pip reaching PyPI for the DependenciesLayer. `sam build` keeps its download
cache in pytest's cache directory (`pytest --cache-clear` forces a fresh download) and builds
into a temporary directory, so nothing is written into the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import template_helpers as th

pytestmark = pytest.mark.slow

RecordProperty = Callable[[str, object], None]

VENV_BIN = Path(sys.executable).parent
REPO = th.REPO_ROOT
TEMPLATE = th.TEMPLATE_PATH
# Lambda's quota: a function and all its layers, unzipped (250 MB = 262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT = 262_144_000


def _tool(name: str) -> str:
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: install the dev extras (pip install -e '.[dev]')")
    return str(path)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AWS_DEFAULT_REGION="eu-west-1",
        SAM_CLI_TELEMETRY="0",
        # sam build looks for `python3.11` (and pip) on PATH: use the venv's.
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False)


def test_cfn_lint_with_serverless_rules_is_clean() -> None:
    result = _run(
        [_tool("cfn-lint"), "--append-rules", "cfn_lint_serverless.rules", "--", str(TEMPLATE)], REPO, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = _run([_tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE)], REPO, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@dataclass
class Build:
    directory: Path
    seconds: float
    log: str


@pytest.fixture(scope="module")
def sam_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    cache_root = request.config.cache.mkdir("recobro-sam-build") if request.config.cache else None
    work = Path(cache_root) if cache_root else tmp_path_factory.mktemp("sam-work")
    build_dir = tmp_path_factory.mktemp("sam-build") / "build"
    args = [
        _tool("sam"),
        "build",
        "--template-file",
        str(TEMPLATE),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(work / "cache"),
        "--cached",
    ]
    started = time.monotonic()
    # cwd=work: sam keeps downloaded dependencies in ./.aws-sam/deps, so that lands in the cache too.
    result = _run(args, work, timeout=900)
    seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    print(f"\nsam build took {seconds:.1f} s")  # shown with -s; also a junit property
    yield Build(build_dir, seconds, log)


def test_sam_build_succeeds(sam_build: Build, record_property: RecordProperty) -> None:
    record_property("sam_build_seconds", round(sam_build.seconds, 1))
    assert "Build Succeeded" in sam_build.log
    assert (sam_build.directory / "template.yaml").is_file()


def _files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def test_recobro_layer_holds_the_package(sam_build: Build) -> None:
    built = sam_build.directory / "RecobroLayer" / "python" / "recobro"
    source = REPO / "layers" / "recobro" / "recobro"
    assert (built / "storage" / "models.py").is_file()
    assert {f for f in _files(built) if f.endswith(".py")} == {f for f in _files(source) if f.endswith(".py")}


def test_templates_layer_unpacks_under_templates(sam_build: Build) -> None:
    built = sam_build.directory / "TemplatesLayer" / "templates"
    source = REPO / "templates"
    expected = {f for f in _files(source) if f != "Makefile"}
    assert expected, "templates/ is empty"
    assert _files(built) == expected


def test_dependencies_layer_has_every_runtime_dependency_for_arm64(sam_build: Build) -> None:
    site = sam_build.directory / "DependenciesLayer" / "python"
    modules = [
        "aws_lambda_powertools",
        "aws_xray_sdk",  # the [tracer] extra
        "fastjsonschema",  # the [validation] extra
        "boto3",
        "chalice",
        "pynamodb",
        "stripe",
        "jinja2",
        "babel",
        "phonenumbers",
        "email_validator",
        "pydantic",
        "yaml",
    ]
    missing = [m for m in modules if not (site / m).is_dir()]
    assert missing == []
    # The functions run on arm64: compiled wheels must be aarch64 builds.
    compiled = list(site.rglob("*.so"))
    assert compiled, "no compiled extension found (pydantic_core has one)"
    wrong = [str(p.relative_to(site)) for p in compiled if "x86_64" in p.name]
    assert wrong == []


def test_every_function_is_built_with_its_handler(sam_build: Build) -> None:
    template = th.load_template()
    for function_id in th.functions(template):
        source, _ = th.handler_location(template, function_id)
        assert (sam_build.directory / function_id / source.name).is_file(), function_id


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_functions_with_their_layers_fit_lambdas_unzipped_limit(
    sam_build: Build, record_property: RecordProperty
) -> None:
    layers = sum(
        _size(sam_build.directory / layer) for layer in ("RecobroLayer", "DependenciesLayer", "TemplatesLayer")
    )
    record_property("layers_unzipped_bytes", layers)
    template = th.load_template()
    for function_id in th.functions(template):
        total = layers + _size(sam_build.directory / function_id)
        assert total < LAMBDA_UNZIPPED_LIMIT, f"{function_id}: {total} bytes unzipped with its layers"
