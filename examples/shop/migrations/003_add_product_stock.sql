-- 003: stock levels. Irreversible in practice: SQLite cannot drop a column with data safely in
-- older versions, and the shop forward-fixes migrations ("prefer forward-fixing").
ALTER TABLE products ADD COLUMN stock INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0);

UPDATE products SET stock = 10;

CREATE INDEX orders_status ON orders (status);
