"""Handler archive and layer: deterministic, clean, built for Lambda's arm64 Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.packaging import (
    HANDLER_MODULES,
    HANDLERS_DIR,
    LAYER_REQUIREMENTS,
    PackagingError,
    build_handler_archive,
    build_layer,
    handler_sources,
    layer_cache_key,
)


@pytest.fixture
def handlers_copy(tmp_path: Path) -> Path:
    target = tmp_path / "src" / "handlers"
    shutil.copytree(HANDLERS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_building_twice_gives_the_same_bytes(handlers_copy: Path, tmp_path: Path) -> None:
    first = build_handler_archive(handlers_copy, tmp_path / "a")
    second = build_handler_archive(handlers_copy, tmp_path / "b")

    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_bytecode_and_timestamps_do_not_change_the_archive(handlers_copy: Path, tmp_path: Path) -> None:
    before = build_handler_archive(handlers_copy, tmp_path / "before")
    cache = handlers_copy / "__pycache__"
    cache.mkdir()
    (cache / "validator.cpython-311.pyc").write_bytes(b"\x00stale bytecode")
    (handlers_copy / "stray.pyc").write_bytes(b"\x00")
    for source in handlers_copy.glob("*.py"):
        source.touch()

    after = build_handler_archive(handlers_copy, tmp_path / "after")

    assert after.sha256 == before.sha256
    names = zipfile.ZipFile(after.path).namelist()
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_a_source_change_changes_the_hash(handlers_copy: Path, tmp_path: Path) -> None:
    before = build_handler_archive(handlers_copy, tmp_path / "before")
    with (handlers_copy / "validator.py").open("a") as source:
        source.write("\n# changed\n")

    assert build_handler_archive(handlers_copy, tmp_path / "after").sha256 != before.sha256


def test_archive_lists_exactly_the_handler_modules_with_fixed_metadata(tmp_path: Path) -> None:
    archive = build_handler_archive(build_dir=tmp_path)
    with zipfile.ZipFile(archive.path) as zipped:
        infos = zipped.infolist()

    assert [i.filename for i in infos] == sorted(f"handlers/{p.name}" for p in handler_sources())
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o644}


def test_archive_is_importable_on_its_own(tmp_path: Path) -> None:
    archive = build_handler_archive(build_dir=tmp_path / "build")
    unpacked = tmp_path / "task"
    zipfile.ZipFile(archive.path).extractall(unpacked)
    modules = ", ".join(
        f"handlers.{p.stem}" for p in handler_sources() if p.suffix == ".py" and p.stem != "__init__"
    )
    script = f"import handlers, {modules}; print(handlers.__file__)"

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=unpacked, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip().startswith(str(unpacked))


@pytest.fixture(scope="module")
def layer_zip() -> zipfile.ZipFile:
    return zipfile.ZipFile(build_layer().path)


def test_layer_holds_what_the_handlers_import_from_powertools_and_no_pydantic(
    layer_zip: zipfile.ZipFile,
) -> None:
    names = set(layer_zip.namelist())

    for module in ("__init__.py", "logging/logger.py", "logging/formatter.py", "metrics/metrics.py"):
        assert f"python/aws_lambda_powertools/{module}" in names, module
    assert not [n for n in names if n.startswith(("python/pydantic", "python/pydantic_core"))]
    assert not [n for n in names if n.endswith(".so")]  # pure Python: nothing built per platform


def test_the_layer_imports_in_a_fresh_interpreter(layer_zip: zipfile.ZipFile, tmp_path: Path) -> None:
    """What the handlers import from the layer loads from the layer alone (plus botocore's
    jmespath, which the runtime also has), with the installed Powertools out of the way."""
    layer_zip.extractall(tmp_path)
    script = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]; "
        f"sys.path.insert(0, {str(tmp_path / 'python')!r}); "
        "import aws_lambda_powertools.logging, aws_lambda_powertools.metrics as m; "
        "assert m.__file__.startswith(sys.path[0]), m.__file__"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stderr


def test_layer_has_every_pinned_package_under_python(layer_zip: zipfile.ZipFile) -> None:
    names = layer_zip.namelist()
    pinned = [
        line.split("==")[0].replace("-", "_").lower()
        for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if line and not line.startswith("#")
    ]

    assert all(name.startswith("python/") for name in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for package in pinned:
        assert any(n.lower().startswith(f"python/{package}-") and ".dist-info/" in n for n in names), package


def test_layer_build_is_deterministic_and_cached(tmp_path: Path) -> None:
    fresh = build_layer(build_dir=tmp_path)
    cached_copy = build_layer(build_dir=tmp_path)

    assert fresh.sha256 == build_layer().sha256
    assert cached_copy.path == fresh.path


def test_the_explicit_module_list_is_the_handler_package() -> None:
    on_disk = sorted(p.name for p in HANDLERS_DIR.glob("*.py"))

    assert sorted(HANDLER_MODULES) == on_disk, (
        "add the new module to HANDLER_MODULES (or remove the stray file)"
    )


def test_a_missing_listed_module_is_a_packaging_error(handlers_copy: Path, tmp_path: Path) -> None:
    (handlers_copy / "validator.py").unlink()

    with pytest.raises(PackagingError, match=r"validator\.py"):
        build_handler_archive(handlers_copy, tmp_path)


def test_a_stray_module_does_not_ship(handlers_copy: Path, tmp_path: Path) -> None:
    (handlers_copy / "scratch.py").write_text("SECRET = 'do not ship'\n")

    names = zipfile.ZipFile(build_handler_archive(handlers_copy, tmp_path).path).namelist()

    assert "handlers/scratch.py" not in names


def test_no_partial_layer_is_left_where_the_cache_looks(tmp_path: Path) -> None:
    build_layer(build_dir=tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == [f"layer-{layer_cache_key()}.zip"]
