from datetime import time

from bantin.config import REPO_ROOT, load_settings


def test_defaults(monkeypatch):
    for name in ("BANTIN_HOME", "BANTIN_PROVINCE", "BANTIN_CUTOFF", "BANTIN_MAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.home == REPO_ROOT / "var"
    assert settings.province_code == 22
    assert settings.cutoff == time(17, 0) and settings.deadline == time(20, 0)
    assert str(settings.timezone) == "Asia/Ho_Chi_Minh"
    assert settings.max_file_bytes == 10 * 1024 * 1024
    assert settings.warehouse_path == REPO_ROOT / "var" / "warehouse" / "bantin.duckdb"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("BANTIN_HOME", str(tmp_path))
    monkeypatch.setenv("BANTIN_PROVINCE", "38")
    monkeypatch.setenv("BANTIN_CUTOFF", "16:30")
    monkeypatch.setenv("BANTIN_MAIL_TO", "a@example.org; b@example.org")
    settings = load_settings()
    assert settings.landing == tmp_path / "landing"
    assert settings.province_code == 38
    assert settings.cutoff == time(16, 30)
    assert settings.mail_to == ("a@example.org", "b@example.org")
