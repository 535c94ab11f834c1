import pytest

from gateway.core.hosts import is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("10.1.2.3", False),
        ("0.0.0.0", False),
        ("::", False),
        ("influx.county.example", False),
        ("localhost.example", False),
        ("", False),
    ],
)
def test_only_this_machine_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
