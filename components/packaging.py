"""Deterministic Lambda archives: the handler code and the dependency layer.

Same sources, same bytes: files are listed explicitly (never ``__pycache__``), sorted,
and zipped with a fixed timestamp and mode, so ``pulumi preview`` shows no change to a
function whose code did not change. Archives are content-addressed under ``build/``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from components.api_description import is_stale
from components.errors import DeploymentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HANDLERS_DIR = PROJECT_ROOT / "handlers"
LAYER_REQUIREMENTS = PROJECT_ROOT / "layer" / "requirements.txt"
BUILD_DIR = PROJECT_ROOT / "build"

LAYER_PLATFORM = "manylinux2014_aarch64"
LAYER_PYTHON_VERSION = "3.12"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
EXCLUDED_PARTS = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


class PackagingError(DeploymentError):
    """A Lambda archive could not be built."""


@dataclass(frozen=True)
class BuiltArchive:
    path: Path
    sha256: str

    @property
    def source_code_hash(self) -> str:
        """The base64 SHA-256 that Lambda reports as ``CodeSha256``."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode("ascii")

    @property
    def project_path(self) -> str:
        """The path Pulumi records: relative to the project, so state does not depend on
        where the checkout lives (``pulumi up`` runs in the project directory)."""
        try:
            return self.path.relative_to(PROJECT_ROOT).as_posix()
        except ValueError:
            return str(self.path)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


# Exactly what ships in the handler archive; a test keeps it equal to handlers/*.py, so a
# new module is added here on purpose and nothing else (notes, caches) ever ships.
HANDLER_MODULES = (
    "__init__.py",
    "api_description.py",
    "api_handler.py",
    "api_routes.py",
    "aws.py",
    "business_metrics.py",
    "cors.py",
    "dlq_processor.py",
    "errors.py",
    "faults.py",
    "fulfill_order.py",
    "http.py",
    "log_levels.py",
    "metrics.py",
    "messages.py",
    "models.py",
    "observability.py",
    "order_intake.py",
    "order_queue.py",
    "order_shape.py",
    "order_storage.py",
    "parsing.py",
    "reconciler.py",
    "repository.py",
    "settings.py",
    "sqs_batch.py",
    "storage_requests.py",
    "validator.py",
)


# Generated data the handlers read: the OpenAPI description (``make openapi``).
HANDLER_DATA = ("openapi.json",)


def handler_sources(handlers_dir: Path = HANDLERS_DIR) -> list[Path]:
    """The handler archive's files, from the explicit lists; a missing one is an error."""
    sources = [handlers_dir / name for name in HANDLER_MODULES + HANDLER_DATA]
    missing = [p.name for p in sources if not p.is_file()]
    if missing:
        raise PackagingError(f"handler modules missing from {handlers_dir}: {', '.join(missing)}")
    return sorted(sources)


def _check_api_description(handlers_dir: Path) -> None:
    document = handlers_dir / HANDLER_DATA[0]
    if is_stale(document):
        raise PackagingError(
            f"{document} does not match the routes and models it is generated from: run `make openapi`"
        )


def _write_zip(entries: Iterable[tuple[str, Path]], target: Path) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, source in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, source.read_bytes(), compresslevel=9)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _publish(staging: Path, build_dir: Path, prefix: str) -> BuiltArchive:
    digest = _sha256(staging)
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"{prefix}-{digest[:16]}.zip"
    if not target.exists():
        os.replace(staging, target)
    else:
        staging.unlink()
    return BuiltArchive(target, digest)


def build_handler_archive(handlers_dir: Path = HANDLERS_DIR, build_dir: Path = BUILD_DIR) -> BuiltArchive:
    sources = handler_sources(handlers_dir)
    _check_api_description(handlers_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    fd, staging_name = tempfile.mkstemp(suffix=".zip", dir=build_dir)
    os.close(fd)
    staging = Path(staging_name)
    _write_zip(((f"{handlers_dir.name}/{p.name}", p) for p in sources), staging)
    return _publish(staging, build_dir, "handlers")


def _layer_files(site: Path) -> Iterable[tuple[str, Path]]:
    for path in site.rglob("*"):
        relative = path.relative_to(site)
        if (
            path.is_file()
            and not EXCLUDED_PARTS & set(relative.parts)
            and path.suffix not in EXCLUDED_SUFFIXES
        ):
            yield f"python/{relative.as_posix()}", path


def layer_cache_key(requirements: Path = LAYER_REQUIREMENTS) -> str:
    recipe = f"{LAYER_PLATFORM}\n{LAYER_PYTHON_VERSION}\n".encode() + requirements.read_bytes()
    return hashlib.sha256(recipe).hexdigest()[:16]


def build_layer(requirements: Path = LAYER_REQUIREMENTS, build_dir: Path = BUILD_DIR) -> BuiltArchive:
    """pip-install the pinned requirements for Lambda's arm64 Python, zipped as a layer.

    Cached by the recipe (requirements, platform, Python version): a second build with
    the same recipe reuses the archive without touching the network.
    """
    key = layer_cache_key(requirements)
    cached = build_dir / f"layer-{key}.zip"
    if cached.exists():
        return BuiltArchive(cached, _sha256(cached))
    with tempfile.TemporaryDirectory(prefix="dofs-layer-") as workdir:
        site = Path(workdir) / "site"
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-compile", "--only-binary=:all:",
            "--platform", LAYER_PLATFORM, "--python-version", LAYER_PYTHON_VERSION,
            "--implementation", "cp", "--target", str(site), "-r", str(requirements),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PackagingError(f"building the Lambda layer failed:\n{result.stderr.strip()}")
        build_dir.mkdir(parents=True, exist_ok=True)
        # Staged beside its final name and renamed atomically: an interrupted build
        # never leaves a truncated archive that the cache check would trust.
        fd, staging_name = tempfile.mkstemp(suffix=".zip", dir=build_dir)
        os.close(fd)
        _write_zip(_layer_files(site), Path(staging_name))
        os.replace(staging_name, cached)
    return BuiltArchive(cached, _sha256(cached))
