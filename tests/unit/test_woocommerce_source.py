"""ORDER_SOURCE=woocommerce: the WooCommerce source against a fake REST API v3 on loopback
(tests/fakes/woocommerce_api.py, built from the seeded demo shop), and the real actions on it."""

from __future__ import annotations

import base64
from datetime import date

import httpx
import pytest

from actions.confirmation import ActionResolveConfirmation
from actions.orders import ActionAnswerOrderTopic
from bot.orders import OrderChangeRefused, OrderSourceUnavailable, get_order_source
from bot.policy import change_check, delivery_estimate, load_policy, promised_window, return_check
from bot.settings import get_settings
from bot.sources.woocommerce import WooCommerceOrderSource
from bot.stack import free_port
from bot.store.sql_source import SqlOrderSource
from tests.conftest import Conversation, seed_order
from tests.fakes.demo_orders import ONE_ORDER_PER_STATE, use_order_source
from tests.fakes.server import serving
from tests.fakes.woocommerce_api import FakeWooCommerce
from tests.unit.test_actions import ask, give_new_address, handoff_signal, verify

# WooCommerce has no packed, in-transit or delayed state: these read as the nearest it has.
COARSER = {"packed": "paid", "in_transit": "shipped"}


def use_woocommerce(
    monkeypatch, url: str, key: str, secret: str, timeout: str = "2", retries: str = "2"
):
    use_order_source(
        monkeypatch,
        "woocommerce",
        timeout,
        retries,
        WOOCOMMERCE_URL=url,
        WOOCOMMERCE_CONSUMER_KEY=key,
        WOOCOMMERCE_CONSUMER_SECRET=secret,
    )


@pytest.fixture
def shop(store, monkeypatch):
    """The fake WooCommerce shop on loopback, and ORDER_SOURCE=woocommerce pointing at it."""
    fake = FakeWooCommerce(store)
    with serving(fake.app) as url:
        fake.url = url
        use_woocommerce(monkeypatch, url, fake.key, fake.secret)
        yield fake
        get_order_source.cache_clear()


def source() -> WooCommerceOrderSource:
    chosen = get_order_source()
    assert isinstance(chosen, WooCommerceOrderSource)
    return chosen


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ONE_ORDER_PER_STATE)
def test_an_order_reads_as_the_sql_store_has_it(shop, store, number):
    expected, got = SqlOrderSource(store).get_order(number), source().get_order(number)
    assert got is not None
    assert got.status == COARSER.get(expected.status, expected.status)
    plain = ("number", "currency", "email", "postcode", "ship_to", "lines", "placed_at")
    assert {f: getattr(got, f) for f in plain} == {f: getattr(expected, f) for f in plain}
    assert got.total == expected.total
    if expected.shipment is None:
        assert got.shipment is None
    else:
        same = ("carrier", "tracking_number", "tracking_url", "shipped_at", "delivered_at")
        same += ("out_for_delivery", "delay_reason")
        assert {f: getattr(got.shipment, f) for f in same} == {
            f: getattr(expected.shipment, f) for f in same
        }
        window = promised_window(expected.shipment.shipped_at.date())
        assert (got.shipment.promised_from, got.shipment.promised_to) == window
    assert [r.rma_number for r in got.returns] == [r.rma_number for r in expected.returns]
    assert [r.status for r in got.returns] == [r.status for r in expected.returns]
    kept = ("amount", "currency", "method", "status", "issued_at")
    assert [{f: getattr(r, f) for f in kept} for r in got.refunds] == [
        {f: getattr(r, f) for f in kept} for r in expected.refunds
    ]
    # What the actions work out from it is the same too (in flight: the policy's window).
    policy, today = load_policy(), date.today()
    estimate = delivery_estimate(got, policy, today)
    if expected.status in ("shipped", "in_transit", "delayed"):
        assert estimate.kind in ("window", "late") and estimate.revised is None
    else:
        assert estimate == delivery_estimate(expected, policy, today)
    assert return_check(got, policy, today) == return_check(expected, policy, today)
    assert change_check(got) == change_check(expected)


def test_final_sale_comes_from_a_product_tag_or_a_line_meta(shop, store):
    got = source().get_order("10409")  # SALE-SCARF by its product's tag, the gift card by meta
    assert [line.final_sale for line in got.lines] == [True, True]
    assert [line.final_sale for line in source().get_order("10434").lines] == [
        line.final_sale for line in SqlOrderSource(store).get_order("10434").lines
    ]
    assert not any(line.final_sale for line in source().get_order("10423").lines)


def test_an_unknown_number_is_none(shop):
    assert source().get_order("99999") is None
    assert shop.sent("list_orders") == [{"search": "99999", "per_page": "20", "page": "1"}]


def test_an_order_whose_number_is_not_its_id_is_found_by_search(store, monkeypatch):
    fake = FakeWooCommerce(store, id_offset=-10)  # order 10423 has id 10413, say
    with serving(fake.app) as url:
        use_woocommerce(monkeypatch, url, fake.key, fake.secret)
        got = source().get_order("10423")
        assert got is not None and got.number == "10423"
        assert got.email == seed_order("10423")["email"]  # not order 10433's, which has id 10423
        assert len(fake.sent("list_orders")) == 1
    get_order_source.cache_clear()


def test_lists_come_with_the_paging_headers(shop):
    auth = base64.b64encode(f"{shop.key}:{shop.secret}".encode()).decode()
    answer = httpx.get(
        f"{shop.url}/wp-json/wc/v3/orders",
        params={"per_page": 5, "page": 2},
        headers={"Authorization": f"Basic {auth}"},
    )
    assert answer.status_code == 200 and len(answer.json()) == 5
    total = int(answer.headers["X-WP-Total"])
    assert int(answer.headers["X-WP-TotalPages"]) == -(-total // 5)
    assert 'rel="next"' in answer.headers["Link"] and 'rel="prev"' in answer.headers["Link"]


def test_a_wrong_key_is_unavailable_not_retried(shop, monkeypatch):
    use_woocommerce(monkeypatch, shop.url, shop.key, "cs_wrong")
    with pytest.raises(OrderSourceUnavailable, match="HTTP 401"):
        source().get_order("10423")
    assert shop.calls == [] and shop.attempts == 0


def test_a_429_is_waited_out_and_answered(shop):
    shop.fail("429", times=2)
    assert source().get_order("10423").number == "10423"
    assert shop.attempts == 5 and shop.faults[0].times == 0  # 2 refused, order, notes, products


def test_a_503_then_an_answer_is_read(shop):
    shop.fail("503", times=1, operation="list_notes")
    assert source().get_order("10433").returns[0].rma_number == "RMA-20032"


def test_a_platform_down_is_unavailable_after_the_set_retries(shop, monkeypatch):
    use_woocommerce(monkeypatch, shop.url, shop.key, shop.secret, retries="1")
    shop.down = True
    with pytest.raises(OrderSourceUnavailable):
        source().get_order("10423")
    assert shop.attempts == 2  # the first try and one retry, then it gives up


def test_nothing_listening_is_unavailable(store, monkeypatch):
    use_woocommerce(monkeypatch, f"http://127.0.0.1:{free_port()}", "ck_x", "cs_x", retries="1")
    with pytest.raises(OrderSourceUnavailable):
        source().get_order("10423")


@pytest.mark.parametrize(
    "missing", ["WOOCOMMERCE_URL", "WOOCOMMERCE_CONSUMER_KEY", "WOOCOMMERCE_CONSUMER_SECRET"]
)
def test_missing_settings_name_the_variable(monkeypatch, missing):
    use_woocommerce(monkeypatch, "https://shop.example", "ck_x", "cs_x")
    monkeypatch.delenv(missing)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match=missing):
        get_order_source()


# --- changing -----------------------------------------------------------------------------------


def test_cancel_records_the_refund_then_cancels(shop):
    order = source().cancel_order("10409")
    assert order.status == "cancelled" and order.refunds[0].status == "pending"
    assert order.refunds[0].amount == order.total
    assert order.refunds[0].method == seed_order("10409")["payment_method"]
    (refund,) = shop.sent("create_refund")
    assert refund["api_refund"] is False and refund["amount"] == f"{order.total:.2f}"
    assert shop.sent("update_order") == [{"status": "cancelled"}]


def test_cancelling_an_unpaid_order_refunds_nothing(shop):
    order = source().cancel_order("10401")
    assert order.status == "cancelled" and order.refunds == ()
    assert shop.sent("create_refund") == []


def test_a_shipped_order_is_refused_without_asking_woocommerce(shop):
    with pytest.raises(OrderChangeRefused):
        source().cancel_order("10402")
    with pytest.raises(OrderChangeRefused):
        source().change_address("10402", "1 New Street")
    assert shop.sent("update_order") == [] and shop.sent("create_refund") == []


def test_a_change_is_never_sent_twice_after_a_timeout(shop, monkeypatch):
    use_woocommerce(monkeypatch, shop.url, shop.key, shop.secret, timeout="0.5", retries="3")
    shop.fail("slow", times=1, operation="create_refund", seconds=1.5)
    with pytest.raises(OrderSourceUnavailable):
        source().cancel_order("10409")
    assert len(shop.sent("create_refund")) == 1
    assert shop.sent("update_order") == []  # and the cancel was not sent after it
    # WooCommerce recorded the full refund, which made the order `refunded`: it won't ship.
    assert shop.order("10409")["status"] == "refunded"


def test_a_change_is_not_retried_after_a_503_but_is_after_a_429(shop):
    shop.fail("503", times=1, operation="update_order")
    with pytest.raises(OrderSourceUnavailable):
        source().cancel_order("10401")
    assert shop.sent("update_order") == []  # a retry would have reached the fake
    shop.fail("429", times=1, operation="update_order")
    assert source().cancel_order("10401").status == "cancelled"
    assert len(shop.sent("update_order")) == 1


def test_address_change_keeps_the_postcode(shop):
    order = source().change_address("10405", "Flat 2, 44 Mill Lane, Bristol")
    postcode = seed_order("10405")["postcode"]
    assert order.ship_to == f"Flat 2, 44 Mill Lane, Bristol, {postcode}"
    assert order.postcode == postcode
    assert shop.sent("update_order") == [
        {"shipping": {"address_1": "Flat 2, 44 Mill Lane, Bristol", "address_2": "", "city": ""}}
    ]


def test_a_return_is_a_private_note_read_back_as_a_return(shop):
    skus = [line["sku"] for line in seed_order("10424")["lines"]][:1]
    opened = source().create_return("10424", skus)
    assert opened.rma_number.startswith("RMA-") and opened.status == "requested"
    (note,) = shop.sent("create_note")
    assert note["customer_note"] is False
    assert opened.rma_number in note["note"] and skus[0] in note["note"]
    again = source().get_order("10424")
    assert again.status == "return_requested"
    assert [r.rma_number for r in again.returns] == [opened.rma_number]
    with pytest.raises(OrderChangeRefused):
        source().create_return("10415", skus)  # not delivered
    with pytest.raises(OrderChangeRefused):
        source().create_return("10407", ["NOT-ON-THE-ORDER"])
    assert len(shop.sent("create_note")) == 1


def test_a_customer_note_does_not_open_a_return(shop):
    shop.order("10407")["notes"].append(
        {
            "id": 1,
            "created": shop.order("10407")["created"],
            "note": "Return RMA-123456 requested for SKUs: BTL-STEEL.",
            "customer_note": True,
            "author": "someone",
        }
    )
    assert source().get_order("10407").status == "delivered"


# --- the real actions on WooCommerce ------------------------------------------------------------


def test_the_shopper_verifies_with_email_or_postcode_and_a_wrong_proof_fails(shop):
    by_email, by_postcode, wrong = Conversation("a"), Conversation("b"), Conversation("c")
    verify(by_email, "10423")
    verify(by_postcode, "10423", seed_order("10423")["postcode"].lower().replace(" ", ""))
    verify(wrong, "10423", "someone.else@example.com")
    assert by_email.slots["verified_orders"] == by_postcode.slots["verified_orders"] == ["10423"]
    assert wrong.slots["verified_orders"] is None and "doesn't match our records" in wrong.said


def test_status_eta_and_refund_answers(shop):
    status = Conversation("status")
    ask(status, "order_status", "10402")
    shipment = seed_order("10402")["shipment"]
    assert "#10402 has shipped" in status.said and "should arrive between" in status.said
    assert shipment["carrier"] in status.said and shipment["tracking_number"] in status.said
    eta = Conversation("eta")  # delayed in the seed: shipped 8 days ago, past the window
    ask(eta, "shipping_eta", "10403")
    assert "running late" in eta.said and "hasn't given a new date" in eta.said
    unshipped = Conversation("unshipped")
    ask(unshipped, "shipping_eta", "10408")
    assert "It hasn't shipped yet" in unshipped.said
    refund = Conversation("refund")
    ask(refund, "refund", "10406")
    seeded = seed_order("10406")["refunds"][0]
    assert f"${seeded['amount']:,.2f}" in refund.said and seeded["method"] in refund.said


def test_cancel_happens_only_after_yes(shop):
    convo = Conversation()
    ask(convo, "cancel_order", "10409")
    assert "Shall I cancel it now?" in convo.said
    assert shop.sent("update_order") == [] and shop.sent("create_refund") == []
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert shop.order("10409")["status"] == "cancelled" and "refunding" in convo.said


def test_address_change_through_the_form(shop):
    convo = Conversation()
    ask(convo, "change_shipping_address", "10405")
    convo.run(ActionAnswerOrderTopic())
    address = "Flat 2, 44 Mill Lane, Bristol BS1 5TR, UK"
    convo.active_loop = "address_form"
    give_new_address(convo, address)
    assert address in convo.said and convo.slots["pending_action"] == "address:10405"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert shop.order("10405")["shipping"]["address_1"] == address


def test_return_of_a_delivered_order(shop):
    convo = Conversation()
    ask(convo, "return_item", "10424")
    assert "Shall I open the return" in convo.said and shop.sent("create_note") == []
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    (opened,) = source().get_order("10424").returns
    assert opened.status == "requested" and opened.rma_number in convo.said


def test_woocommerce_down_mid_conversation_hands_off_and_changes_nothing(shop, monkeypatch):
    use_woocommerce(monkeypatch, shop.url, shop.key, shop.secret, timeout="1", retries="1")
    convo = Conversation("woocommerce-down")
    ask(convo, "cancel_order", "10409")
    assert convo.slots["pending_action"] == "cancel:10409"
    shop.down = True
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert "can't reach the shop's order system" in convo.said
    assert handoff_signal(convo) == {"reason": "order_system_down", "order_number": "10409"}
    assert shop.order("10409")["status"] == "processing" and shop.order("10409")["refunds"] == []
