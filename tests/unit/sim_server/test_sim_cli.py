"""``krakensim serve`` argument handling: bad input is one clear line and exit status 2."""
from __future__ import annotations

import pytest

from krakensim.cli import build_parser, main


@pytest.mark.parametrize("argv", [
    ["serve", "--port", "http"],
    ["serve", "--port", "70000"],
    ["serve", "--tier", "whale"],
    ["serve", "--balance", "ZEUR"],
    ["serve", "--balance", "ZEUR=lots"],
    ["serve", "--balance", "ZEUR=-1"],
    ["serve", "--seed", "x"],
    ["serve", "--flow-rate", "-1"],
    ["serve", "--flow-rate", "fast"],
    ["serve", "--api-key", "K"],
    ["serve", "--api-key", "K", "--api-secret", "not base64!"],
    ["fly"],
    [],
])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        code = main(argv)
        raise SystemExit(code)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("krakensim: error:")


def test_good_arguments_parse_to_decimals():
    args = build_parser().parse_args(["serve", "--port", "0", "--seed", "9", "--balance", "zeur=10000.5,XXBT=1",
                                      "--tier", "pro", "--flow-rate", "0.5"])
    from decimal import Decimal
    assert args.balance == {"ZEUR": Decimal("10000.5"), "XXBT": Decimal("1")}
    assert (args.port, args.seed, args.tier, args.flow_rate) == (0, 9, "pro", 0.5)
    assert build_parser().parse_args(["serve"]).flow_rate == 2.0  # serve is a market with other traders
