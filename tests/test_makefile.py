"""The set-up a user watches: `make` shows the llama.cpp compile and builds only what jaju uses."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

PROGRESS = ROOT / "scripts" / "pip_progress.py"


def test_progress_shows_steps_and_keeps_the_whole_log(tmp_path):
    fake = tmp_path / "pip.txt"
    steps = "".join(f"  [{i}/40] /usr/bin/g++ -O3 -c file{i}.cpp\n" for i in range(1, 41))
    fake.write_text(f"Collecting jaju\nBuilding wheel for llama-cpp-python\n{steps}"
                    "Successfully installed jaju\n", encoding="utf-8")
    log = tmp_path / "install.log"
    out = subprocess.run([sys.executable, str(PROGRESS), str(log), "--", "cat", str(fake)],
                         capture_output=True, text=True, check=True)
    assert "compiling 20/40 (50%)" in out.stdout and "compiling 40/40 (100%)" in out.stdout
    assert "Successfully installed jaju" in out.stdout and "g++" not in out.stdout
    assert log.read_text(encoding="utf-8") == fake.read_text(encoding="utf-8")


def test_progress_returns_pips_exit_status_and_the_end_of_the_log(tmp_path):
    failing = [sys.executable, "-c", "print('error: no compiler'); raise SystemExit(3)"]
    out = subprocess.run([sys.executable, str(PROGRESS), str(tmp_path / "log"), "--", *failing],
                         capture_output=True, text=True)
    assert out.returncode == 3 and "no compiler" in out.stderr


def test_make_builds_llama_cpp_lean_and_loud():
    env = {**os.environ, "CMAKE_ARGS": "-DGGML_CUDA=on"}
    out = subprocess.run(["make", "-n", "-p", "install", "VENV=/nonexistent/venv"], cwd=ROOT,
                         env=env, capture_output=True, text=True).stdout
    args = next(line for line in out.splitlines() if line.startswith("CMAKE_ARGS"))
    assert "-DLLAVA_BUILD=OFF" in args and args.rstrip().endswith("-DGGML_CUDA=on")
    install = [line for line in out.splitlines() if "pip install" in line and "llamacpp" in line]
    assert install and all("--quiet" not in line and "-v" in line.split() for line in install)
    assert any("pip_progress.py" in line for line in out.splitlines())
