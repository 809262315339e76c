"""Order sources for shops whose orders live on an outside platform (Shopify, ...)."""
