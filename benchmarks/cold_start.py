"""What a cold start costs before the first event: importing each handler, and the layer's size.

For every ``functions/*/app.py`` a fresh interpreter is started ``--samples`` times (10), and
each times ``import app`` as the Lambda runtime does it: the function's folder first, then the
layer's ``python/`` folder (``/opt/python``), then what the python3.13 runtime itself provides.

- With a built layer (``.aws-sam/build/VigilLayer/python``, from ``make build``) the
  interpreter runs without ``site`` and sees only the function, the layer, and a folder that
  stands for the runtime: boto3 and its dependencies (botocore, s3transfer, jmespath,
  python-dateutil, six, urllib3) linked from the virtualenv. A package the layer forgot fails
  the import instead of being found in the virtualenv. Bytecode is not written
  (``-B``: ``/opt`` is read-only on Lambda), so a layer without ``.pyc`` compiles its modules
  on every sample, as on Lambda.
- Without one (or with ``--source``), ``layers/vigil`` and the virtualenv's site-packages.

The environment is what a handler sees at import: the Lambda runtime's variables (the
task root, which turns Powertools' Tracer on as on Lambda, a region, fake credentials),
the template's ``POWERTOOLS_*`` globals and fake ``VIGIL_*`` values. An audit hook refuses
every socket connection and name lookup, so an import that calls AWS fails.

It prints, per function, the median and p90 import seconds (wall clock), the slowest sample
and the median CPU seconds (the import's own work, which other processes on a busy machine
do not stretch: compare those when the wall clock is noisy); with
``--importtime N``, the N top-level packages that cost the most (self time summed over their
modules, from one ``-X importtime`` run); and the layer's unzipped bytes, file count, zipped
bytes and largest packages (``.aws-sam/build/VigilLayer``).

    .venv/bin/python benchmarks/cold_start.py [--samples 10] [--functions a,b] [--importtime 8]
        [--layer DIR | --source] [--json]

Seconds depend on the machine (Lambda's arm64 cores at 256 MB get a fraction of a vCPU:
expect them to be slower); the ranking, and the files and bytes, do not.
"""

import argparse
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
BUILT_LAYER = ROOT / ".aws-sam" / "build" / "VigilLayer"
SOURCE_LAYER = ROOT / "layers" / "vigil"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
"""What the python3.13 runtime provides besides the standard library: the SDK and its
dependencies (they are not in the layer)."""

ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "vigil-cold-start",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "vigil",
    "POWERTOOLS_METRICS_NAMESPACE": "Vigil",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "VIGIL_STACK_NAME": "vigil",
    "VIGIL_TABLE_NAME": "vigil-StateTable-1A2B3C",
    "VIGIL_RULES": "{}",
    "VIGIL_BATCH_BUCKET": "vigil-batchbucket-1a2b3c",
    "VIGIL_ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:vigil-alerts",
    "VIGIL_EVALUATE_STATE_MACHINE_ARN": (
        "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-evaluate"
    ),
    "VIGIL_RUNBOOK_STATE_MACHINE_ARN": (
        "arn:aws:states:us-east-1:123456789012:stateMachine:vigil-runbook"
    ),
    "VIGIL_SLACK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat",
    "VIGIL_SLACK_SIGNING_SECRET_ARN": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing"
    ),
    "VIGIL_RUNBOOK_BUCKET": "vigil-runbookbucket-1a2b3c",
}

# Runs in the fresh interpreter: argv[1] is the JSON list of folders to put first on sys.path.
_CHILD = """
import json, sys, time

def _refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto"):
        raise RuntimeError(f"network at import: {event} {args!r}")

sys.addaudithook(_refuse)
sys.path[:0] = json.loads(sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
import app
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
assert callable(app.lambda_handler)
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "modules": len(sys.modules)}))
"""


def _runtime_dir(into: Path) -> Path:
    """A folder holding only the runtime's packages, linked from this interpreter's."""
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} is not installed in {sys.prefix}")
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            (into / name).symlink_to(origin.parent)
            continue
        (into / origin.name).symlink_to(origin)  # a one-file module (six): its .pyc too
        compiled = importlib.util.cache_from_source(str(origin))
        if Path(compiled).is_file():
            (into / "__pycache__").mkdir(exist_ok=True)
            (into / "__pycache__" / Path(compiled).name).symlink_to(compiled)
    return into


def _native_dir(layer: Path, into: Path) -> tuple[Path, list[str]]:
    """Packages of the layer built for another machine (arm64 wheels), linked from this
    interpreter's copy of the same package, to be found before the layer's."""
    machine = os.uname().machine
    foreign = sorted(
        {
            path.relative_to(layer).parts[0]
            for path in layer.rglob("*.so")
            if machine not in path.name and "-linux-gnu" in path.name
        }
    )
    for name in foreign:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} (native, in the layer) is not installed in {sys.prefix}")
        (into / name).symlink_to(Path(spec.origin).parent)
    return into, foreign


def _command(paths: list[str], *, isolated: bool, importtime: bool) -> list[str]:
    flags = ["-B"]
    if isolated:
        flags += ["-S", "-E"]  # no site-packages, no PYTHON* variables: only the paths given
    if importtime:
        flags += ["-X", "importtime"]
    return [sys.executable, *flags, "-c", _CHILD, json.dumps(paths)]


def _environment(function: str) -> dict[str, str]:
    """``LAMBDA_TASK_ROOT`` (the function's folder) is what turns Powertools' Tracer on."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
    return {**keep, **ENVIRONMENT, "LAMBDA_TASK_ROOT": function}


def _sample(paths: list[str], *, isolated: bool) -> dict[str, Any]:
    done = subprocess.run(
        _command(paths, isolated=isolated, importtime=False),
        capture_output=True,
        text=True,
        env=_environment(paths[0]),
        cwd=paths[0],
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"importing {paths[0]}/app.py failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _offenders(paths: list[str], *, isolated: bool, top: int) -> list[dict[str, Any]]:
    """Self milliseconds per top-level package (summed over its modules, compiling included),
    from one ``-X importtime`` run."""
    done = subprocess.run(
        _command(paths, isolated=isolated, importtime=True),
        capture_output=True,
        text=True,
        env=_environment(paths[0]),
        cwd=paths[0],
        check=True,
    )
    self_us: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        package = name.split(".")[0]
        self_us[package] += int(own)
        modules[package] += 1
    return [
        {"package": package, "self_ms": round(us / 1000, 1), "modules": modules[package]}
        for package, us in self_us.most_common(top)
    ]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(
    function: Path, layer: list[str], *, samples: int, isolated: bool, importtime: int
) -> dict[str, Any]:
    paths = [str(function), *layer]
    runs = [_sample(paths, isolated=isolated) for _ in range(samples)]
    seconds = [run["seconds"] for run in runs]
    row: dict[str, Any] = {
        "function": function.name,
        "median_s": round(statistics.median(seconds), 3),
        "p90_s": round(_percentile(seconds, 0.9), 3),
        "max_s": round(max(seconds), 3),
        "median_cpu_s": round(statistics.median(run["cpu_seconds"] for run in runs), 3),
        "modules": runs[-1]["modules"],
        "samples": samples,
    }
    if importtime:
        row["top_packages"] = _offenders(paths, isolated=isolated, top=importtime)
    return row


def layer_size(build: Path) -> dict[str, Any]:
    """Unzipped bytes and files of the built layer, its zip's bytes, the largest packages."""
    files = [p for p in build.rglob("*") if p.is_file()]
    python = build / "python"
    by_top: Counter[str] = Counter()
    for path in files:
        parts = path.relative_to(python).parts if path.is_relative_to(python) else path.parts
        by_top[parts[0] if len(parts) > 1 else path.name] += path.stat().st_size
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(build))
    return {
        "path": _shown(build),
        "unzipped_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "pyc_files": sum(1 for p in files if p.suffix == ".pyc"),
        "zipped_bytes": len(buffer.getvalue()),
        "largest": [{"name": name, "bytes": size} for name, size in by_top.most_common(8)],
    }


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="fresh interpreters per function")
    parser.add_argument("--functions", default="", help="comma-separated folder names (all)")
    parser.add_argument(
        "--importtime", type=int, default=0, metavar="N", help="show the N costliest packages"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--layer", type=Path, help=f"a built layer folder ({BUILT_LAYER})")
    where.add_argument("--source", action="store_true", help="layers/vigil and the virtualenv")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()

    build = args.layer.resolve() if args.layer else BUILT_LAYER
    built = not args.source and (build / "python").is_dir()
    wanted = {name for name in args.functions.split(",") if name}
    functions = sorted(
        path.parent
        for path in FUNCTIONS.glob("*/app.py")
        if not wanted or path.parent.name in wanted
    )
    with tempfile.TemporaryDirectory(prefix="vigil-runtime-") as scratch:
        native: list[str] = []
        if built:
            (Path(scratch) / "native").mkdir()
            (Path(scratch) / "runtime").mkdir()
            natives, native = _native_dir(build / "python", Path(scratch) / "native")
            runtime = _runtime_dir(Path(scratch) / "runtime")
            layer = [str(natives), str(build / "python"), str(runtime)]
        else:
            layer = [str(SOURCE_LAYER)]
        rows = [
            measure(
                function,
                layer,
                samples=args.samples,
                isolated=built,
                importtime=args.importtime,
            )
            for function in functions
        ]
    document: dict[str, Any] = {
        "layer": _shown(build) if built else "layers/vigil + virtualenv",
        "python": sys.version.split()[0],
        "host_native_packages": native,
        "functions": rows,
        "layer_size": layer_size(build) if built else None,
    }
    if args.json:
        print(json.dumps(document))
        return
    print(f"layer: {document['layer']}  (python {document['python']}, {args.samples} samples)")
    if native:
        print(f"  this machine's build of: {', '.join(native)} (the layer's are for arm64)")
    print(
        f"{'function':<16} {'median s':>9} {'p90 s':>7} {'max s':>7} {'median CPU s':>13}"
        f" {'modules':>8}"
    )
    for row in rows:
        print(
            f"{row['function']:<16} {row['median_s']:>9.3f} {row['p90_s']:>7.3f}"
            f" {row['max_s']:>7.3f} {row['median_cpu_s']:>13.3f} {row['modules']:>8}"
        )
        for offender in row.get("top_packages", []):
            print(
                f"{'':<18}{offender['package']:<24} {offender['self_ms']:>7.1f} ms"
                f" in {offender['modules']:>3} modules"
            )
    size = document["layer_size"]
    if size:
        print(
            f"layer {size['path']}: {size['unzipped_bytes'] / 1e6:.1f} MB unzipped,"
            f" {size['files']} files ({size['pyc_files']} .pyc),"
            f" {size['zipped_bytes'] / 1e6:.1f} MB zipped"
        )
        print(
            "  largest: "
            + ", ".join(f"{e['name']} {e['bytes'] / 1e6:.1f} MB" for e in size["largest"])
        )


if __name__ == "__main__":
    main()
