// Kysely table types of the catalog database (see migrations.ts).

/** A product as the latest ProductChanged described it. */
export interface ProductsTable {
  sku: string;
  name: string;
  description: string;
  category: string;
  price_minor: number;
  currency: string;
  /** Epoch ms of the change (the event's `updatedAt`). */
  updated_at: number;
}

/** The catalog database. */
export interface CatalogDb {
  products: ProductsTable;
}
