// The seed data of the shop: the catalogue (products, prices, initial stock) and demo customers.
export {
  DECLINED_DEMO_SKU,
  LOW_STOCK_SKU,
  type SeedCategory,
  type SeedProduct,
  seedCategories,
  seedProduct,
  seedProducts,
} from './catalog.js';
export { type DemoCustomer, demoCustomers } from './customers.js';
