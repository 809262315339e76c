"""Storefront Assist: the shop-side package (order data, business rules, handoff)."""
