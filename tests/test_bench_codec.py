"""`fieldwatch bench codec` measures every codec path over a realistic message mix."""

import re

from typer.testing import CliRunner

from fieldwatch.cli import app
from fieldwatch_dev.bench.codec import message_mix


def test_message_mix_is_valid_contract_messages() -> None:
    kinds = {type(m).__name__ for m in message_mix(50)}
    assert kinds == {"LocationFix", "Health", "Event", "WaterSample"}


def test_bench_codec_reports_a_rate_for_each_path() -> None:
    result = CliRunner().invoke(app, ["bench", "codec", "--count", "200", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    rates = re.findall(r"([\d,]+) msg/s", result.output)
    assert len(rates) == 3
    assert all(int(rate.replace(",", "")) > 0 for rate in rates)
