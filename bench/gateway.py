"""Gateway benchmark: direct upstream vs through jaju vs through LiteLLM's proxy, same stub
upstream, same load; then llamacpp tokens/s through jaju vs llama-cpp-python called directly.

Run: .venv/bin/python bench/gateway.py [--seconds 8] [--repeat 1] [--levels 1,8,32] [--skip-litellm]
     [--skip-llamacpp] [--floor] [--compare-src CHECKOUT] [--pg-url ADMIN_URL [--replicas 2]]
     [--out docs/benchmarks-gateway.md]

LiteLLM is installed by this script in its own venv (bench/.venv-litellm) on first use.
Not a test: the machine is noisy, so read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
JAJU = str(Path(PY).parent / "jaju")
LITELLM_VENV = HERE / ".venv-litellm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 120,
              headers: dict | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("installing LiteLLM proxy into bench/.venv-litellm ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "--quiet",
                        "litellm[proxy]"], check=True)
    return exe


def litellm_version() -> str:
    out = subprocess.run([str(LITELLM_VENV / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('litellm'))"],
                         capture_output=True, text=True)
    return out.stdout.strip()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        todo += [int(c) for c in children]
    return total


def load(base: str, model: str, mode: str, conc: int, seconds: float, key: str = "none",
         pids: list[int] | None = None) -> dict:
    """One cell of closed-loop load; with `pids`, also the CPU time those processes (the
    gateway under test) spent per request, which the machine's other load barely moves."""
    before = cpu_seconds(pids or [])
    out = subprocess.run([PY, str(HERE / "load.py"), base, model, mode, str(conc), str(seconds),
                          key], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    spent = cpu_seconds(pids or []) - before
    result["cpu_ms"] = spent * 1000 / max(1, result["requests"]) if pids else float("nan")
    return result


def paired(rounds: list[dict[str, dict]], name: str) -> dict:
    """`name`'s figures over `rounds` (each a cell of every path): the median of each, with
    × direct and the added latencies taken against the direct path of the same round."""
    med = statistics.median
    out = {k: med(r[name][k] for r in rounds)
           for k in ("rps", "p50_ms", "p99_ms", "cpu_ms", "client_cpu_ms")}
    out["errors"] = sum(r[name]["errors"] for r in rounds)
    out["x_direct"] = med(r[name]["rps"] / r["direct"]["rps"] for r in rounds)
    out["added_p50_ms"] = med(r[name]["p50_ms"] - r["direct"]["p50_ms"] for r in rounds)
    out["added_p99_ms"] = med(r[name]["p99_ms"] - r["direct"]["p99_ms"] for r in rounds)
    return out


def fresh_database(admin_url: str) -> tuple[str, str]:
    """A new, empty PostgreSQL database next to `admin_url`'s: (its URL, its name)."""
    import psycopg

    name = "jaju_bench_" + os.urandom(6).hex()
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


def drop_databases(admin_url: str, names: list[str]) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as db:
        for name in names:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_jaju(name: str, work: Path, upstream: str, procs: list[subprocess.Popen], *,
               src: str | None, admin_url: str | None, dbs: list[str],
               replicas: int = 1) -> tuple[list[str], str, list[int]]:
    """`replicas` `jaju serve` processes of one config (SQLite in their own JAJU_HOME, or a fresh
    PostgreSQL database), from this checkout or `src`'s: their base URLs and an API key."""
    home = work / f"home-{name}"
    cfg = work / f"{name}.toml"
    text = (f'[backends.stub]\ntype = "openai"\nurls = ["{upstream}"]\nmodel = "stub"\n')
    if admin_url:
        url, db = fresh_database(admin_url)
        dbs.append(db)
        text += f'\n[store]\nurl = "{url}"\n'
    cfg.write_text(text, encoding="utf-8")
    env = {**os.environ, "JAJU_HOME": str(home)}
    if src:
        env["PYTHONPATH"] = str(Path(src) / "src")
    key = subprocess.run([JAJU, "keys", "create", "--tenant", "bench", "--config", str(cfg)],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    bases = []
    for _ in range(replicas):
        port = free_port()
        proc = subprocess.Popen([JAJU, "serve", "--config", str(cfg), "--port", str(port),
                                 "--log-level", "warning"], env=env,
                                stderr=open(work / f"{name}-{port}.log", "w"))  # noqa: SIM115
        procs.append(proc)
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        bases.append(f"http://127.0.0.1:{port}/v1")
    return bases, key, [p.pid for p in procs[-replicas:]]


def gateway_bench(args: argparse.Namespace, work: Path) -> list[str]:
    procs: list[subprocess.Popen] = []
    dbs: list[str] = []
    try:
        sport = free_port()
        stub = subprocess.Popen([PY, str(HERE / "stub_upstream.py"), str(sport)])
        procs.append(stub)
        wait_http(f"http://127.0.0.1:{sport}/v1/models", stub)
        direct = f"http://127.0.0.1:{sport}/v1"

        # every jaju authenticates every request with a key and writes usage and audit rows
        targets = {"direct": (direct, "none", [stub.pid])}
        sources = {"": None}
        if args.compare_src:  # the same benchmark on another checkout's code, in this run
            sources["-before"] = args.compare_src
        stores = {"": None}
        if args.pg_url:
            stores["-pg"] = args.pg_url
        for store_tag, admin_url in stores.items():
            for src_tag, src in sources.items():
                name = f"jaju{src_tag}{store_tag}"
                replicas = args.replicas if admin_url and not src_tag else 1
                bases, key, pids = start_jaju(name, work, direct, procs, src=src,
                                              admin_url=admin_url, dbs=dbs, replicas=replicas)
                targets[name] = (bases[0], key, pids[:1])
                if replicas > 1:
                    targets[f"{name} x{replicas}"] = (",".join(bases), key, pids)

        if args.floor:  # the least a gateway of jaju's parts adds (bench/floor_proxy.py)
            for name, db in (("floor", None), ("floor+commit", str(work / "floor.db"))):
                fport = free_port()
                floor = subprocess.Popen([PY, str(HERE / "floor_proxy.py"), str(fport), direct,
                                          *([db] if db else [])])
                procs.append(floor)
                wait_http(f"http://127.0.0.1:{fport}/v1/models", floor)
                targets[name] = (f"http://127.0.0.1:{fport}/v1", "none", [floor.pid])

        if not args.skip_litellm:
            exe = ensure_litellm()
            lport = free_port()
            lcfg = work / "litellm.yaml"
            lcfg.write_text(
                "model_list:\n  - model_name: stub\n    litellm_params:\n"
                f"      model: openai/stub\n      api_base: {direct}\n      api_key: none\n"
                "litellm_settings:\n  telemetry: false\n", encoding="utf-8")
            lkey = "sk-bench-" + os.urandom(16).hex()
            env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR",
                   "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "True",
                   "LITELLM_MASTER_KEY": lkey}
            litellm = subprocess.Popen([str(exe), "--config", str(lcfg), "--port", str(lport),
                                        "--host", "127.0.0.1", "--num_workers", "1"],
                                       env=env, stdout=subprocess.DEVNULL,
                                       stderr=open(work / "litellm.log", "w"))  # noqa: SIM115
            procs.append(litellm)
            wait_http(f"http://127.0.0.1:{lport}/health/liveliness", litellm, seconds=300)
            targets["litellm"] = (f"http://127.0.0.1:{lport}/v1", lkey, [litellm.pid])

        for base, key, _ in targets.values():  # warm up each path
            load(base, "stub", "plain", 4, 2, key)
            load(base, "stub", "stream", 4, 2, key)

        rows: list[str] = []
        header = ("| mode | concurrency | path | req/s | × direct | p50 ms | p99 ms | "
                  "added p50 ms | added p99 ms | CPU ms/req | load CPU ms/req | errors |")
        rows += [header, "|" + "---|" * 12]
        summary: list[str] = []
        for mode in ("plain", "stream"):
            for conc in args.levels:
                # --repeat N: N rounds, each path once per round in turn, so that a host whose
                # speed drifts affects every path alike; ratios and added latencies are paired
                # within a round, then the median of the rounds is shown
                rounds = [{name: load(base, "stub", mode, conc, args.seconds, key, pids)
                           for name, (base, key, pids) in targets.items()}
                          for _ in range(args.repeat)]
                results = {name: paired(rounds, name) for name in targets}
                for name, r in results.items():
                    added50 = "" if name == "direct" else f"{r['added_p50_ms']:.2f}"
                    added99 = "" if name == "direct" else f"{r['added_p99_ms']:.2f}"
                    rows.append(f"| {mode} | {conc} | {name} | {r['rps']:.0f} | "
                                f"{r['x_direct']:.2f} | "
                                f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {added50} | "
                                f"{added99} | {r['cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} | "
                                f"{r['errors']} |")
                    print(rows[-1], file=sys.stderr)
                if "litellm" in results:
                    j, lt = results["jaju"], results["litellm"]
                    add_j = j["added_p50_ms"]
                    add_l = lt["added_p50_ms"]
                    summary.append(
                        f"| {mode} | {conc} | {j['rps'] / lt['rps']:.2f} | "
                        f"{add_j / add_l if add_l > 0 else float('nan'):.2f} |")
        if summary:
            rows += ["", "jaju vs LiteLLM (target: throughput ratio >= 2, added-p50 ratio "
                     "<= 0.33):", "",
                     "| mode | concurrency | throughput jaju/LiteLLM | added p50 jaju/LiteLLM |",
                     "|---|---|---|---|", *summary]
        return rows
    finally:
        for p in reversed(procs):
            stop(p)
        if dbs:
            drop_databases(args.pg_url, dbs)


def llamacpp_bench(args: argparse.Namespace, work: Path) -> list[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from llama_cpp import Llama
    from openai import OpenAI

    from tinymodel import write_tiny_gguf

    model = write_tiny_gguf(work / "bench.gguf", n_embd=512, n_layer=8, n_head=8, n_ff=1536,
                            n_ctx=4096, seed=1)
    size_mb = model.stat().st_size / 1e6
    messages = [{"role": "user", "content": "근로기준법 제23조를 설명해 주세요."}]
    n = args.tokens
    port = free_port()
    server = subprocess.Popen([JAJU, "serve", "--model", str(model), "--port", str(port),
                               "--log-level", "warning"],
                              env={**os.environ, "JAJU_HOME": str(work / "home-llama")})
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server)
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", timeout=600)
        llm = Llama(model_path=str(model), n_ctx=4096, verbose=False)

        def direct(stream: bool) -> tuple[int, float]:
            t0 = time.perf_counter()
            if stream:
                count = sum(1 for part in llm.create_chat_completion(
                    messages=messages, max_tokens=n, seed=1, stream=True)
                    if part["choices"][0]["delta"].get("content"))
            else:
                r = llm.create_chat_completion(messages=messages, max_tokens=n, seed=1)
                count = r["usage"]["completion_tokens"]
            return count, time.perf_counter() - t0

        def via_jaju(stream: bool) -> tuple[int, float]:
            t0 = time.perf_counter()
            if stream:
                s = client.chat.completions.create(model="bench", messages=messages,
                                                   max_tokens=n, seed=1, stream=True,
                                                   stream_options={"include_usage": True})
                count = 0
                for c in s:
                    if c.usage:
                        count = c.usage.completion_tokens
            else:
                r = client.chat.completions.create(model="bench", messages=messages,
                                                   max_tokens=n, seed=1)
                count = r.usage.completion_tokens
            return count, time.perf_counter() - t0

        rows = [f"Model: random-weight llama GGUF written by tests/tinymodel.py "
                f"({size_mb:.0f} MB f32, 8 layers, d=512), {n} tokens per request, "
                f"{args.rounds} interleaved rounds, median.", "",
                "| mode | direct tok/s | through jaju tok/s | ratio (target >= 0.97) |",
                "|---|---|---|---|"]
        direct(False)
        via_jaju(False)  # warm up both
        for stream in (False, True):
            d_rates, j_rates = [], []
            for _ in range(args.rounds):
                c, t = direct(stream)
                d_rates.append(c / t)
                c, t = via_jaju(stream)
                j_rates.append(c / t)
            d, j = statistics.median(d_rates), statistics.median(j_rates)
            rows.append(f"| {'stream' if stream else 'plain'} | {d:.1f} | {j:.1f} | "
                        f"{j / d:.3f} |")
            print(rows[-1], file=sys.stderr)
        llm.close()
        return rows
    finally:
        stop(server)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--repeat", type=int, default=1, help="rounds per cell, the paths taking "
                    "turns (median shown); on a noisy host, more rounds of fewer seconds")
    ap.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    ap.add_argument("--skip-litellm", action="store_true")
    ap.add_argument("--floor", action="store_true", help="also run bench/floor_proxy.py: a "
                    "bare uvicorn + aiohttp proxy, and the same with a durable SQLite commit")
    ap.add_argument("--compare-src", help="also run jaju from this checkout (e.g. the commit "
                    "before a change), as the path jaju-before")
    ap.add_argument("--pg-url", help="also run jaju on a fresh PostgreSQL database created "
                    "through this URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres), as "
                    "the path jaju-pg")
    ap.add_argument("--replicas", type=int, default=1, help="with --pg-url: also N jaju-pg "
                    "replicas on the one database, the load dealt to them round-robin")
    ap.add_argument("--skip-gateway", action="store_true")
    ap.add_argument("--skip-llamacpp", action="store_true")
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="jaju-bench-"))
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; {time.strftime('%Y-%m-%d')}.", ""]
    try:
        if not args.skip_gateway:
            lines += ["### Gateway overhead (stub upstream; closed loop, "
                      f"{args.seconds:.0f} s per cell)", ""]
            if not args.skip_litellm:
                ensure_litellm()
                lines += [f"LiteLLM {litellm_version()} proxy, 1 worker.", ""]
            lines += [*gateway_bench(args, work), ""]
        if not args.skip_llamacpp:
            lines += ["### llamacpp backend: tokens/s through jaju vs direct", ""]
            lines += llamacpp_bench(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
