// The demo customers of the shop. Their passwords are demo passwords, printed by `npm start` so
// anyone can log in; the monolith stores only scrypt hashes of them.

/** A demo customer. */
export interface DemoCustomer {
  /** Stable id: the `sub` of the customer's login token. */
  readonly id: string;
  readonly email: string;
  readonly name: string;
  /** Demo password (public on purpose). */
  readonly password: string;
  /** Scopes granted at login beyond `orders:read orders:write`; staff get `catalog:write`. */
  readonly extraScopes: readonly string[];
}

/** The demo customers; the last one is staff and may change products (`PUT /admin/products/:sku`). */
export const demoCustomers: readonly DemoCustomer[] = Object.freeze([
  {
    id: 'cus-0001',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    password: 'analytical-engine',
    extraScopes: [],
  },
  {
    id: 'cus-0002',
    email: 'grace@example.com',
    name: 'Grace Hopper',
    password: 'cobol-1959',
    extraScopes: [],
  },
  { id: 'cus-0003', email: 'alan@example.com', name: 'Alan Turing', password: 'bombe-1940', extraScopes: [] },
  {
    id: 'cus-0004',
    email: 'barbara@example.com',
    name: 'Barbara Liskov',
    password: 'clu-1974',
    extraScopes: [],
  },
  {
    id: 'cus-0005',
    email: 'edsger@example.com',
    name: 'Edsger Dijkstra',
    password: 'shortest-path',
    extraScopes: [],
  },
  {
    id: 'cus-0006',
    email: 'margaret@example.com',
    name: 'Margaret Hamilton',
    password: 'apollo-11',
    extraScopes: [],
  },
  {
    id: 'cus-0900',
    email: 'staff@flotilla.shop',
    name: 'Shop Staff',
    password: 'staff-demo-pass',
    extraScopes: ['catalog:write'],
  },
]);
