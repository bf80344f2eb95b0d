import pytest

from finops.settings import reload_settings


def test_malformed_setting_fails_loudly_naming_the_variable(monkeypatch):
    monkeypatch.setenv("MAX_QUERY_DAYS", "lots")
    with pytest.raises(RuntimeError, match="MAX_QUERY_DAYS"):
        reload_settings()
    monkeypatch.delenv("MAX_QUERY_DAYS")
    reload_settings()


def test_database_name_must_be_an_identifier(monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_DATABASE", "finops; DROP TABLE x")
    with pytest.raises(RuntimeError, match="CLICKHOUSE_DATABASE"):
        reload_settings()
    monkeypatch.delenv("CLICKHOUSE_DATABASE")
    reload_settings()


def test_anomaly_daily_limits_are_read_as_a_json_object(monkeypatch):
    monkeypatch.setenv("ANOMALY_DAILY_LIMITS", '{"AI": 500, "EGRESS": 50}')
    assert reload_settings().anomaly_daily_limits == {"AI": 500.0, "EGRESS": 50.0}
    monkeypatch.setenv("ANOMALY_DAILY_LIMITS", "[1, 2]")
    with pytest.raises(RuntimeError, match="ANOMALY_DAILY_LIMITS"):
        reload_settings()
    monkeypatch.delenv("ANOMALY_DAILY_LIMITS")
    reload_settings()
