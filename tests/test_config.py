"""jaju.toml -> settings, with clear errors."""

from __future__ import annotations

import pytest

from jaju.cli.serve import SAMPLE_CONFIG
from jaju.config import Settings, is_loopback
from jaju.errors import ConfigError


def test_default_is_extractive(tmp_path):
    s = Settings(home=tmp_path)
    assert list(s.backends) == ["extractive"]
    assert s.server.host == "127.0.0.1" and s.server.port == 8000
    assert s.db_path == tmp_path / "jaju.db"


def test_home_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JAJU_HOME", str(tmp_path / "h"))
    assert Settings().home == tmp_path / "h"


def test_sample_config_loads(tmp_path):
    p = tmp_path / "jaju.toml"
    p.write_text(SAMPLE_CONFIG, encoding="utf-8")
    s = Settings.load(p)
    assert s.backends["extractive"].type == "extractive"


def test_full_config(tmp_path):
    p = tmp_path / "jaju.toml"
    p.write_text("""
[backends.local]
type = "llamacpp"
path = "models/x.gguf"
parallel = 2

[backends.vllm]
type = "openai"
url = "http://127.0.0.1:9/v1"
api_key_env = "VLLM_KEY"

[assistants.law]
backend = "local"
system_prompt = "법률 도우미"
temperature = 0.1
""", encoding="utf-8")
    s = Settings.load(p)
    assert s.backends["local"].path == tmp_path / "models/x.gguf"  # relative to the file
    assert s.backends["vllm"].urls == ["http://127.0.0.1:9/v1"]
    assert s.assistants["law"].temperature == 0.1


@pytest.mark.parametrize("text, fragment", [
    ("[server]\nport = 'eighty'", "server.port"),
    ("[backends.x]\ntype = 'llamacpp'", "backends.x.path"),
    ("[assistants.a]\nbackend = 'missing'", "not defined"),
    ("[server]\nprot = 1", "server.prot"),
    ("[server", "invalid TOML"),
])
def test_bad_config_is_reported_with_its_key(tmp_path, text, fragment):
    p = tmp_path / "jaju.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        Settings.load(p)
    assert fragment in str(e.value)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        Settings.load(__import__("pathlib").Path("/nonexistent/jaju.toml"))


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.0.10")


def test_the_rerank_weight_names_config_checks_are_the_rerankers():
    from dataclasses import fields

    from jaju.config import RERANK_WEIGHTS
    from jaju.knowledge.rerank import Weights

    assert set(RERANK_WEIGHTS) == {f.name for f in fields(Weights)}


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/7", "127.0.0.1:6379", "tcp://r:6379"])
def test_a_redis_url_of_another_scheme_is_a_clear_error(tmp_path, url):
    """`jaju config check` and `jaju serve` alike: a bilingual error naming the key, exit 2."""
    from conftest import free_port, run_jaju

    config = tmp_path / "jaju.toml"
    config.write_text(f'[limits]\nredis_url = "{url}"\n', encoding="utf-8")
    for args in (["config", "check"], ["serve", "--port", str(free_port())]):
        out = run_jaju(*args, "--config", str(config), home=tmp_path / "h")
        said = " ".join(out.stderr.split())
        assert out.returncode == 2, (args, out.stderr)
        assert "limits.redis_url" in said and "redis://, rediss:// or unix://" in said
        assert "Traceback" not in out.stderr
    for good in ("redis://:pw@127.0.0.1:6379/0", "rediss://r:6380/1", "unix:///run/r.sock?db=0"):
        settings = Settings.model_validate({"home": tmp_path, "limits": {"redis_url": good}})
        assert settings.limits.redis_url == good
