"""ORDER_SOURCE=shopify: the Shopify source against a fake Admin GraphQL API on loopback
(tests/fakes/shopify_admin.py, built from the seeded demo shop), and the real actions on it."""

from __future__ import annotations

from datetime import date

import pytest

from actions.confirmation import ActionResolveConfirmation
from actions.orders import ActionAnswerOrderTopic
from bot.orders import OrderChangeRefused, OrderSourceUnavailable, get_order_source
from bot.policy import change_check, delivery_estimate, load_policy, return_check
from bot.settings import get_settings
from bot.sources.shopify import ShopifyOrderSource
from bot.stack import free_port
from bot.store.sql_source import SqlOrderSource
from tests.conftest import Conversation, seed_order
from tests.fakes.demo_orders import ONE_ORDER_PER_STATE, use_order_source
from tests.fakes.server import serving
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.unit.test_actions import ask, give_new_address, handoff_signal, verify


def use_shopify(monkeypatch, url: str, token: str, timeout: str = "2", retries: str = "2"):
    use_order_source(
        monkeypatch, "shopify", timeout, retries, SHOPIFY_SHOP_URL=url, SHOPIFY_ACCESS_TOKEN=token
    )


@pytest.fixture
def shop(store, monkeypatch):
    """The fake Shopify shop on loopback, and ORDER_SOURCE=shopify pointing at it."""
    fake = FakeShopifyAdmin(store)
    with serving(fake.app) as url:
        fake.url = url
        use_shopify(monkeypatch, url, fake.token)
        yield fake
        get_order_source.cache_clear()


def source() -> ShopifyOrderSource:
    chosen = get_order_source()
    assert isinstance(chosen, ShopifyOrderSource)
    return chosen


# --- reading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ONE_ORDER_PER_STATE)
def test_an_order_reads_as_the_sql_store_has_it(shop, store, number):
    expected, got = SqlOrderSource(store).get_order(number), source().get_order(number)
    assert got is not None and got.status == expected.status
    plain = ("number", "currency", "email", "postcode", "ship_to", "lines", "placed_at")
    assert {f: getattr(got, f) for f in plain} == {f: getattr(expected, f) for f in plain}
    assert got.total == expected.total
    assert got.shipment == expected.shipment
    assert [r.rma_number for r in got.returns] == [r.rma_number for r in expected.returns]
    assert got.refunds == expected.refunds
    # What the actions work out from it is the same too.
    policy, today = load_policy(), date.today()
    assert delivery_estimate(got, policy, today) == delivery_estimate(expected, policy, today)
    assert return_check(got, policy, today) == return_check(expected, policy, today)
    assert change_check(got) == change_check(expected)


def test_final_sale_comes_from_the_product_tag(shop, store):
    got = source().get_order("10434")
    assert [line.final_sale for line in got.lines] == [
        line.final_sale for line in SqlOrderSource(store).get_order("10434").lines
    ]
    assert any(line.final_sale for line in got.lines)


def test_an_unknown_number_is_none(shop):
    assert source().get_order("99999") is None
    assert shop.sent("OrderByName") == [{"query": 'name:"#99999"'}]


def test_a_wrong_token_is_unavailable_not_retried(shop, monkeypatch):
    use_shopify(monkeypatch, shop.url, "shpat_wrong")
    with pytest.raises(OrderSourceUnavailable, match="HTTP 401"):
        source().get_order("10423")
    assert shop.calls == [] and shop.attempts == 0


def test_a_429_is_waited_out_and_answered(shop):
    shop.fail("429", times=2)
    assert source().get_order("10423").number == "10423"
    assert shop.attempts == 3 and shop.faults[0].times == 0


def test_throttled_is_retried_like_a_429(shop):
    shop.fail("throttled", times=1)
    assert source().get_order("10423").number == "10423"
    assert shop.attempts == 2 and len(shop.sent("OrderByName")) == 1


def test_a_platform_down_is_unavailable_after_the_set_retries(shop, monkeypatch):
    use_shopify(monkeypatch, shop.url, shop.token, retries="1")
    shop.down = True
    with pytest.raises(OrderSourceUnavailable):
        source().get_order("10423")
    assert shop.attempts == 2  # the first try and one retry, then it gives up


def test_a_503_then_an_answer_is_read(shop):
    shop.fail("503", times=1)
    assert source().get_order("10423").number == "10423"


def test_nothing_listening_is_unavailable(store, monkeypatch):
    use_shopify(monkeypatch, f"http://127.0.0.1:{free_port()}", "shpat_x", retries="1")
    with pytest.raises(OrderSourceUnavailable):
        source().get_order("10423")


def test_missing_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("ORDER_SOURCE", "shopify")
    monkeypatch.delenv("SHOPIFY_SHOP_URL", raising=False)
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_x")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    with pytest.raises(ValueError, match="SHOPIFY_SHOP_URL"):
        get_order_source()
    monkeypatch.setenv("SHOPIFY_SHOP_URL", "https://example.myshopify.com")
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN")
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="SHOPIFY_ACCESS_TOKEN"):
        get_order_source()


# --- changing -----------------------------------------------------------------------------------


def test_cancel_refunds_and_reads_the_order_again(shop):
    order = source().cancel_order("10409")
    assert order.status == "cancelled" and order.refunds[0].status == "pending"
    assert order.refunds[0].amount == order.total
    assert shop.sent("OrderCancel") == [{"orderId": shop.order("10409")["gid"]}]


def test_a_cancel_refused_with_user_errors_is_refused(shop):
    shop.refuse_next["OrderCancel"] = "Order has been fulfilled elsewhere"
    with pytest.raises(OrderChangeRefused):
        source().cancel_order("10409")
    assert shop.order("10409")["cancelled_at"] is None


def test_a_shipped_order_is_refused_without_asking_shopify(shop):
    with pytest.raises(OrderChangeRefused):
        source().cancel_order("10402")
    assert shop.sent("OrderCancel") == []


def test_a_change_is_never_sent_twice_after_a_timeout(shop, monkeypatch):
    use_shopify(monkeypatch, shop.url, shop.token, timeout="0.5", retries="3")
    shop.fail("slow", times=1, operation="OrderCancel", seconds=1.5)
    with pytest.raises(OrderSourceUnavailable):
        source().cancel_order("10409")
    assert len(shop.sent("OrderCancel")) == 1


def test_a_change_is_not_retried_after_a_503_but_is_after_a_429(shop):
    shop.fail("503", times=1, operation="OrderCancel")
    with pytest.raises(OrderSourceUnavailable):
        source().cancel_order("10409")
    assert shop.sent("OrderCancel") == []  # a retry would have reached the fake
    shop.fail("429", times=1, operation="OrderCancel")
    assert source().cancel_order("10409").status == "cancelled"
    assert len(shop.sent("OrderCancel")) == 1


def test_address_change_keeps_the_postcode(shop):
    order = source().change_address("10405", "Flat 2, 44 Mill Lane, Bristol")
    postcode = seed_order("10405")["postcode"]
    assert order.ship_to == f"Flat 2, 44 Mill Lane, Bristol, {postcode}"
    assert order.postcode == postcode


def test_a_return_is_requested_for_the_given_skus_only(shop):
    skus = [line["sku"] for line in seed_order("10424")["lines"]][:1]
    opened = source().create_return("10424", skus)
    assert opened.rma_number == "#10424-R1" and opened.status == "requested"
    (sent,) = shop.sent("ReturnRequest")
    assert len(sent["input"]["returnLineItems"]) == 1
    assert source().get_order("10424").status == "return_requested"
    with pytest.raises(OrderChangeRefused):
        source().create_return("10415", skus)  # not delivered


# --- the real actions on Shopify ----------------------------------------------------------------


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
    eta = Conversation("eta")
    ask(eta, "shipping_eta", "10403")
    assert "running late" in eta.said and "now expects to deliver it by" in eta.said
    refund = Conversation("refund")
    ask(refund, "refund", "10406")
    seeded = seed_order("10406")["refunds"][0]
    assert f"${seeded['amount']:,.2f}" in refund.said and seeded["method"] in refund.said


def test_cancel_happens_only_after_yes(shop):
    convo = Conversation()
    ask(convo, "cancel_order", "10409")
    assert "Shall I cancel it now?" in convo.said
    assert shop.sent("OrderCancel") == [] and shop.order("10409")["cancelled_at"] is None
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert shop.order("10409")["cancelled_at"] is not None and "refunding" in convo.said


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
    assert shop.order("10405")["address"]["address1"] == address


def test_return_of_a_delivered_order(shop):
    convo = Conversation()
    ask(convo, "return_item", "10424")
    assert "Shall I open the return" in convo.said and shop.sent("ReturnRequest") == []
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    (opened,) = shop.order("10424")["returns"]
    assert opened["status"] == "REQUESTED" and opened["name"] in convo.said


def test_shopify_down_mid_conversation_hands_off_and_changes_nothing(shop, monkeypatch):
    use_shopify(monkeypatch, shop.url, shop.token, timeout="1", retries="1")
    convo = Conversation("shopify-down")
    ask(convo, "cancel_order", "10409")
    assert convo.slots["pending_action"] == "cancel:10409"
    shop.down = True
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert "can't reach the shop's order system" in convo.said
    assert handoff_signal(convo) == {"reason": "order_system_down", "order_number": "10409"}
    assert shop.order("10409")["cancelled_at"] is None
