-- The store's tables as `Base.metadata.create_all` made them on PostgreSQL before
-- migrations existed (bot/store/models.py at commit e707b87): what a database from then
-- holds. Written by create_all on a mock engine; kept as is, the tests that upgrade
-- such a database build it from here (the models move on, this does not).

CREATE TABLE customers (
	id SERIAL NOT NULL,
	name VARCHAR(120) NOT NULL,
	email VARCHAR(254) NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_customers_email ON customers (email);

CREATE TABLE conversations (
	id VARCHAR(64) NOT NULL,
	channel VARCHAR(20) NOT NULL,
	channel_user_id VARCHAR(128),
	mode VARCHAR(10) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_conversations_channel_user_id ON conversations (channel_user_id);

CREATE TABLE channel_receipts (
	id SERIAL NOT NULL,
	channel VARCHAR(20) NOT NULL,
	external_id VARCHAR(200) NOT NULL,
	received_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (channel, external_id)
);

CREATE TABLE staff_users (
	id SERIAL NOT NULL,
	username VARCHAR(80) NOT NULL,
	password_hash VARCHAR(300) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (username)
);

CREATE TABLE verification_failures (
	id SERIAL NOT NULL,
	sender_key VARCHAR(200) NOT NULL,
	failed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id)
);

CREATE INDEX ix_verification_failures_sender_key ON verification_failures (sender_key);

CREATE TABLE orders (
	id SERIAL NOT NULL,
	number VARCHAR(20) NOT NULL,
	customer_id INTEGER NOT NULL,
	status VARCHAR(20) NOT NULL,
	placed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	currency VARCHAR(3) NOT NULL,
	payment_method VARCHAR(40) NOT NULL,
	ship_name VARCHAR(120) NOT NULL,
	ship_line1 VARCHAR(200) NOT NULL,
	ship_city VARCHAR(120) NOT NULL,
	ship_postcode VARCHAR(20) NOT NULL,
	ship_country VARCHAR(2) NOT NULL,
	cancelled_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(customer_id) REFERENCES customers (id)
);

CREATE UNIQUE INDEX ix_orders_number ON orders (number);

CREATE TABLE messages (
	id SERIAL NOT NULL,
	conversation_id VARCHAR(64) NOT NULL,
	sender VARCHAR(10) NOT NULL,
	text TEXT NOT NULL,
	extra TEXT,
	agent_id INTEGER,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(conversation_id) REFERENCES conversations (id),
	FOREIGN KEY(agent_id) REFERENCES staff_users (id)
);

CREATE INDEX ix_messages_conversation_id ON messages (conversation_id);

CREATE TABLE tickets (
	id SERIAL NOT NULL,
	conversation_id VARCHAR(64) NOT NULL,
	reason VARCHAR(40) NOT NULL,
	order_number VARCHAR(20),
	status VARCHAR(20) NOT NULL,
	assignee_id INTEGER,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	assigned_at TIMESTAMP WITHOUT TIME ZONE,
	first_reply_at TIMESTAMP WITHOUT TIME ZONE,
	closed_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(assignee_id) REFERENCES staff_users (id)
);

CREATE INDEX ix_tickets_conversation_id ON tickets (conversation_id);

CREATE INDEX ix_tickets_status ON tickets (status);

CREATE TABLE staff_sessions (
	token_hash VARCHAR(64) NOT NULL,
	user_id INTEGER NOT NULL,
	csrf_token VARCHAR(64) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	expires_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	PRIMARY KEY (token_hash),
	FOREIGN KEY(user_id) REFERENCES staff_users (id)
);

CREATE INDEX ix_staff_sessions_user_id ON staff_sessions (user_id);

CREATE TABLE order_lines (
	id SERIAL NOT NULL,
	order_id INTEGER NOT NULL,
	sku VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	quantity INTEGER NOT NULL,
	unit_price NUMERIC(10, 2) NOT NULL,
	final_sale BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(order_id) REFERENCES orders (id)
);

CREATE INDEX ix_order_lines_order_id ON order_lines (order_id);

CREATE TABLE shipments (
	id SERIAL NOT NULL,
	order_id INTEGER NOT NULL,
	carrier VARCHAR(40) NOT NULL,
	tracking_number VARCHAR(60) NOT NULL,
	shipped_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	promised_from DATE NOT NULL,
	promised_to DATE NOT NULL,
	revised_eta DATE,
	delivered_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	UNIQUE (order_id),
	FOREIGN KEY(order_id) REFERENCES orders (id)
);

CREATE TABLE returns (
	id SERIAL NOT NULL,
	rma_number VARCHAR(20) NOT NULL,
	order_id INTEGER NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	status VARCHAR(20) NOT NULL,
	skus VARCHAR(400) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (rma_number),
	FOREIGN KEY(order_id) REFERENCES orders (id)
);

CREATE INDEX ix_returns_order_id ON returns (order_id);

CREATE TABLE refunds (
	id SERIAL NOT NULL,
	order_id INTEGER NOT NULL,
	amount NUMERIC(10, 2) NOT NULL,
	method VARCHAR(40) NOT NULL,
	status VARCHAR(20) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	issued_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	FOREIGN KEY(order_id) REFERENCES orders (id)
);

CREATE INDEX ix_refunds_order_id ON refunds (order_id);
