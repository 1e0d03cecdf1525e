// Kysely table types of the legacy database (see migrations.ts).

/** A product of the catalogue. */
export interface ProductsTable {
  sku: string;
  name: string;
  description: string;
  category: string;
  price_minor: number;
  currency: string;
  /** Epoch ms of the last change. */
  updated_at: number;
}

/** A customer who can log in. */
export interface CustomersTable {
  id: string;
  /** Lowercase. */
  email: string;
  name: string;
  /** `scrypt$N$r$p$<salt b64>$<key b64>`. */
  password_hash: string;
  /** Space-separated scopes granted at login. */
  scopes: string;
  created_at: number;
}

/** The monolith's own stock: units that can still be sold per SKU. */
export interface StockTable {
  sku: string;
  available: number;
  updated_at: number;
}

/** A simulated payment of a v1 order. */
export interface PaymentsTable {
  id: string;
  order_id: string;
  customer_id: string;
  amount_minor: number;
  currency: string;
  status: string;
  created_at: number;
}

/** A v1 order (always CONFIRMED: it is all or nothing). */
export interface OrdersTable {
  id: string;
  customer_id: string;
  status: string;
  /** JSON array of `{ sku, quantity, unitPriceMinor }`. */
  items: string;
  total_minor: number;
  currency: string;
  payment_id: string;
  created_at: number;
}

/** Seeds applied once per database. */
export interface SeedRunsTable {
  id: string;
  applied_at: number;
}

/** The legacy database. */
export interface LegacyDb {
  products: ProductsTable;
  customers: CustomersTable;
  stock: StockTable;
  payments: PaymentsTable;
  orders: OrdersTable;
  seed_runs: SeedRunsTable;
}
