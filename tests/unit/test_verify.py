from bot.verify import parse_order_number, parse_proof


def test_order_numbers_inside_sentences():
    assert parse_order_number("where's #10423?") == "10423"
    assert parse_order_number("order no. 10423 please") == "10423"
    assert parse_order_number("# 10423") == "10423"
    assert parse_order_number("I ordered 2 tees") is None
    assert parse_order_number("") is None


def test_proofs():
    assert parse_proof("It's Ava.Thompson@Example.com.") == ("email", "ava.thompson@example.com")
    assert parse_proof("my zip is 97205") == ("postcode", "97205")
    assert parse_proof("sw1a 2aa") == ("postcode", "SW1A2AA")
    assert parse_proof("3511-LX") == ("postcode", "3511LX")
    for nonsense in ("yes", "", "🙂🙂", "hello there my friend", "x" * 10_000):
        assert parse_proof(nonsense) is None
