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
