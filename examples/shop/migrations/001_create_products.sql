-- 001: the catalogue.
CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);

INSERT INTO products (sku, name, price_cents) VALUES
    ('MUG-001', 'Enamel mug', 1200),
    ('TEE-001', 'Logo t-shirt', 2500),
    ('BAG-001', 'Canvas tote', 1800);
