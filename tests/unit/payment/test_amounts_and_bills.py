"""Amount conversions and the two providers' bill formats, without a gateway."""
from __future__ import annotations

import io
import zipfile

import pytest

from drivers.payment.alipay import parse_alipay_bill_zip
from drivers.payment.provider import check_out_no, fen_to_yuan, yuan_to_fen
from drivers.payment.wechat import parse_wechat_bill


@pytest.mark.parametrize("fen,yuan", [(0, "0.00"), (1, "0.01"), (10, "0.10"), (9900, "99.00"), (10_000_000, "100000.00")])
def test_fen_and_yuan_round_trip(fen: int, yuan: str) -> None:
    assert fen_to_yuan(fen) == yuan
    assert yuan_to_fen(yuan) == fen


def test_yuan_parsing_is_strict() -> None:
    assert yuan_to_fen("1.5") == 150 and yuan_to_fen("-0.30") == -30 and yuan_to_fen("7") == 700
    for bad in ("1.234", "abc", "", "1,00", "¥1"):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)


def test_out_trade_numbers_valid_at_both_providers() -> None:
    assert check_out_no("P0123456789abcdef") == "P0123456789abcdef"
    for bad in ("short", "x" * 33, "has space1", "中文订单号码码码"):
        with pytest.raises(ValueError):
            check_out_no(bad)


def test_wechat_bill_rows_and_summary_stop() -> None:
    text = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
            "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,"
            "费率,订单金额,申请退款金额,费率备注\r\n"
            "`2026-11-30 10:00:00,`wx1,`19,`0,`,`4200A,`P1aaaaaa,`o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`99.00,`0.00,`0,`0,"
            "`0.00,`0.00,`,`,`deposit,`,`0.00000,`0.60%,`99.00,`0.00,`\r\n"
            "`2026-11-30 12:00:00,`wx1,`19,`0,`,`4200A,`P1aaaaaa,`o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50X,"
            "`R1bbbbbb,`93.00,`0.00,`ORIGINAL,`SUCCESS,`deposit,`,`0.00000,`0.60%,`0.00,`93.00,`\r\n"
            "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
            "`1,`99.00,`93.00,`0.00,`0.00000,`99.00,`93.00\r\n")
    rows = parse_wechat_bill(text)
    assert [(r.kind, r.out_trade_no, r.out_refund_no, r.amount_fen, r.provider_ref) for r in rows] == [
        ("payment", "P1aaaaaa", None, 9900, "4200A"), ("refund", "P1aaaaaa", "R1bbbbbb", 9300, "50X")]


def test_alipay_bill_zip_reads_only_the_detail_file() -> None:
    header = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,"
              "商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,"
              "商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")
    detail = ("#支付宝业务明细查询\r\n" + header + "\r\n"
              "2026T1,P2cccccc,交易,deposit,2026-11-30 10:00:00,2026-11-30 10:00:05,,,,,a,99.00,99.00,0.00,0.00,0.00,"
              "0.00,0.00,,0.00,0.00,,0.00,0.00,\r\n"
              "2026T1,P2cccccc,退款,deposit,2026-11-30 10:00:00,2026-11-30 12:00:00,,,,,a,0.00,-93.00,0.00,0.00,0.00,"
              "0.00,0.00,,0.00,0.00,R2dddddd,0.00,0.00,\r\n#-----结束-----\r\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("2021_20261130_业务明细.csv", detail.encode())
        z.writestr("2021_20261130_业务明细(汇总).csv", "#汇总\r\n交易笔数,1\r\n".encode())
    rows = parse_alipay_bill_zip(buf.getvalue())
    assert [(r.kind, r.out_trade_no, r.out_refund_no, r.amount_fen) for r in rows] == [
        ("payment", "P2cccccc", None, 9900), ("refund", "P2cccccc", "R2dddddd", 9300)]
