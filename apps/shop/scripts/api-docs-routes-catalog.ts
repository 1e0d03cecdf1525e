// The reference's entries for the routes the monolith (and, mid-migration, the catalog service)
// answers: login and the product catalogue. Examples are real answers of the shop, shortened.
import { z } from 'zod';
import * as catalogApi from '../src/contracts/catalog-api.js';
import * as legacyApi from '../src/contracts/legacy-api.js';
import { contract, type RouteDoc, ValidationDetails } from './api-docs-model.js';

const productListQuery = contract(legacyApi, 'legacy-api.ts', 'ProductListQuery', {
  notes: {
    skus: 'comma-separated SKUs (`TEA-001,GIFT-013`), 1..100 of them: the answer is then a batch',
    cursor: '`nextCursor` of the previous page',
  },
});

const productListResponse = contract(legacyApi, 'legacy-api.ts', 'ProductListResponse', {
  alternatives: ['With `skus`, a `ProductBatch`', 'Without, a `ProductPage`'],
});

const skuParams = {
  schema: z.object({ sku: legacyApi.ProductSku }),
  name: '{ sku: ProductSku }',
  file: 'legacy-api.ts',
};

const tea001 = {
  sku: 'TEA-001',
  name: 'Sencha Kagoshima',
  description: 'Grassy, bright Japanese green tea, first flush. 100 g.',
  category: 'tea',
  priceMinor: 1290,
  currency: 'EUR',
  updatedAt: '2026-11-27T07:41:15.106Z',
};

const kettle = {
  sku: 'BREW-001',
  name: 'Gooseneck Kettle',
  description: 'Electric kettle with a temperature dial, 1 °C steps. 1 l.',
  category: 'brewing',
  priceMinor: 8900,
  currency: 'EUR',
  updatedAt: '2026-11-27T07:41:15.106Z',
};

const dripper = {
  sku: 'BREW-002',
  name: 'Pour-over Dripper',
  description: 'Ceramic cone dripper, size 02.',
  category: 'brewing',
  priceMinor: 2490,
  currency: 'EUR',
  updatedAt: '2026-11-27T07:41:15.106Z',
};

const invalidCursor = {
  title: 'A cursor the shop did not hand out',
  caller: 'anonymous',
  request: { query: { cursor: 'bad' } },
  response: {
    status: 400,
    body: {
      error: {
        code: 'INVALID_CURSOR',
        message: 'cursor is not one returned by GET /products',
        details: { cursor: 'bad' },
        retryable: false,
      },
    },
  },
} as const;

const productListErrors = [
  {
    status: 400,
    code: 'VALIDATION_FAILED',
    when: '`limit` out of 1..100, a malformed SKU in `skus`',
    from: 'service',
  },
  { status: 400, code: 'INVALID_CURSOR', when: '`cursor` is not one the shop returned', from: 'service' },
] as const;

const productErrors = [
  { status: 400, code: 'VALIDATION_FAILED', when: 'the SKU does not look like `TEA-001`', from: 'service' },
  { status: 404, code: 'PRODUCT_NOT_FOUND', when: 'no product has this SKU', from: 'service' },
] as const;

/** `POST /api/login`. */
export const loginDoc: RouteDoc = {
  id: 'login',
  title: 'Log in',
  description:
    "Checks a customer's email and password and answers an end-user JWT (HS256, issuer `flotilla-shop`, `sub` the customer id, valid for `expiresInSeconds`) to send as `Authorization: Bearer <token>`. Customers get the scopes `orders:read orders:write`; staff also `catalog:write`. A wrong email and a wrong password get the same answer.",
  body: contract(legacyApi, 'legacy-api.ts', 'LoginRequest'),
  response: { kind: 'contract', status: 200, body: contract(legacyApi, 'legacy-api.ts', 'LoginResponse') },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'the body is not `{ email, password }`',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 401, code: 'INVALID_CREDENTIALS', when: 'unknown email or wrong password', from: 'service' },
  ],
  examples: [
    {
      title: 'A demo customer logs in',
      caller: 'anonymous',
      request: { body: { email: 'ada@example.com', password: 'analytical-engine' } },
      response: {
        status: 200,
        body: {
          token:
            'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6Im9yZGVyczpyZWFkIG9yZGVyczp3cml0ZSIsImlzcyI6ImZsb3RpbGxhLXNob3AiLCJzdWIiOiJjdXMtMDAwMSIsImlhdCI6MTc5NTc2NTYwOSwiZXhwIjoxNzk1NzY5MjA5fQ.dDcKpROvwDYqaPTluRrJkEngTaJf2IxcmXR8FiHb6rQ',
          tokenType: 'Bearer',
          expiresInSeconds: 3600,
        },
      },
    },
    {
      title: 'A wrong password',
      caller: 'anonymous',
      request: { body: { email: 'ada@example.com', password: 'wrong' } },
      response: {
        status: 401,
        body: {
          error: { code: 'INVALID_CREDENTIALS', message: 'email or password is wrong', retryable: false },
        },
      },
    },
    {
      title: 'A body that is not a login',
      caller: 'anonymous',
      request: { body: { email: 'a' } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'body.email: Too small: expected string to have >=3 characters',
            details: [
              {
                location: 'body',
                field: 'email',
                code: 'too_small',
                message: 'Too small: expected string to have >=3 characters',
              },
              {
                location: 'body',
                field: 'password',
                code: 'invalid_type',
                message: 'Invalid input: expected string, received undefined',
              },
            ],
            retryable: false,
          },
        },
      },
    },
    {
      title: 'More than 40 logins at once from one client',
      caller: 'anonymous',
      request: { body: { email: 'ada@example.com', password: 'wrong' } },
      response: {
        status: 429,
        headers: {
          'retry-after': '1',
          'ratelimit-limit': '40',
          'ratelimit-remaining': '0',
          'ratelimit-reset': '2',
        },
        body: {
          error: {
            code: 'RATE_LIMITED',
            message: 'too many requests from this consumer; retry in 1 s',
            retryable: true,
          },
        },
      },
    },
  ],
};

/** `GET /api/v2/products`. */
export const productsDoc: RouteDoc = {
  id: 'products',
  title: 'List products',
  description:
    'A page of the catalogue in SKU order, or with `skus` a batch of named products (found ones in the order asked, and the SKUs not found). Prices are in minor units (cents) of `currency`. Answered by the legacy monolith.',
  query: productListQuery,
  response: {
    kind: 'contract',
    status: 200,
    body: productListResponse,
  },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: productListErrors,
  examples: [
    {
      title: 'The first page, two per page',
      caller: 'anonymous',
      request: { query: { limit: '2' } },
      response: { status: 200, body: { items: [kettle, dripper], nextCursor: 'YWZ0ZXI6QlJFVy0wMDI' } },
    },
    {
      title: 'A batch by SKU',
      caller: 'anonymous',
      request: { query: { skus: 'TEA-001,GIFT-013,XX-999' } },
      response: {
        status: 200,
        body: {
          items: [
            tea001,
            {
              sku: 'GIFT-013',
              name: 'Gift Card 10.13',
              description:
                'Demo product: its price ends in 13 cents, which the simulated payment provider always declines.',
              category: 'gifts',
              priceMinor: 1013,
              currency: 'EUR',
              updatedAt: '2026-11-27T07:41:15.106Z',
            },
          ],
          missing: ['XX-999'],
        },
      },
    },
    invalidCursor,
  ],
};

/** `GET /api/v2/products/:sku`. */
export const productDoc: RouteDoc = {
  id: 'product',
  title: 'Get a product',
  description:
    "One product. This route is mid-migration from the monolith to the catalog service: the gateway sends a share of the requests (the split's weight, 50 % as configured) to catalog and the rest to legacy, each visitor kept on one side by a `visitor` cookie, and requests without that cookie drawn at random (the route is public, so there is no user to stick by), mirrors every request legacy serves to catalog and compares the answers (ignoring `updatedAt`). Both answer the same body, checked here against both contracts. See [strangler-fig.md](strangler-fig.md) and [the shop's README](../apps/shop/README.md#strangler-fig) for the weight.",
  params: skuParams,
  response: {
    kind: 'contract',
    status: 200,
    body: contract(legacyApi, 'legacy-api.ts', 'ProductView'),
    alsoChecked: [contract(catalogApi, 'catalog-api.ts', 'CatalogProduct')],
  },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: productErrors,
  examples: [
    {
      title: 'A product',
      caller: 'anonymous',
      request: { params: { sku: 'TEA-001' } },
      response: { status: 200, body: tea001 },
    },
    {
      title: 'An unknown SKU',
      caller: 'anonymous',
      request: { params: { sku: 'TEA-999' } },
      response: {
        status: 404,
        body: {
          error: {
            code: 'PRODUCT_NOT_FOUND',
            message: 'no product TEA-999',
            details: { sku: 'TEA-999' },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'Not a SKU',
      caller: 'anonymous',
      request: { params: { sku: 'tea' } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'params.sku: sku must look like TEA-001',
            details: [
              {
                location: 'params',
                field: 'sku',
                code: 'invalid_format',
                message: 'sku must look like TEA-001',
              },
            ],
            retryable: false,
          },
        },
      },
    },
  ],
};

/** `GET /api/v1/products`. */
export const v1ProductsDoc: RouteDoc = {
  id: 'v1-products',
  title: 'List products (v1)',
  description: "The monolith's product list, the same as `GET /api/v2/products`.",
  query: productListQuery,
  response: {
    kind: 'contract',
    status: 200,
    body: productListResponse,
  },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: productListErrors,
  examples: [
    {
      title: 'The first product',
      caller: 'anonymous',
      request: { query: { limit: '1' } },
      response: { status: 200, body: { items: [kettle], nextCursor: 'YWZ0ZXI6QlJFVy0wMDE' } },
    },
  ],
};

/** `GET /api/v1/products/:sku`. */
export const v1ProductDoc: RouteDoc = {
  id: 'v1-product',
  title: 'Get a product (v1)',
  description: 'One product, always from the monolith (no split).',
  params: skuParams,
  response: { kind: 'contract', status: 200, body: contract(legacyApi, 'legacy-api.ts', 'ProductView') },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: productErrors,
  examples: [
    {
      title: 'A product',
      caller: 'anonymous',
      request: { params: { sku: 'TEA-012' } },
      response: {
        status: 200,
        body: {
          sku: 'TEA-012',
          name: 'Matcha Ceremonial',
          description: 'Stone-ground first-harvest tencha from Uji. 30 g.',
          category: 'tea',
          priceMinor: 2990,
          currency: 'EUR',
          updatedAt: '2026-11-27T07:41:15.106Z',
        },
      },
    },
  ],
};

/** `PUT /api/v1/admin/products/:sku`. */
export const adminProductDoc: RouteDoc = {
  id: 'admin-product',
  title: 'Change a product (staff)',
  description:
    "Changes an existing product's price and, when given, its name, description and category. The monolith publishes `ProductChanged`, from which the catalog service updates its copy; a change that changes nothing publishes nothing and keeps `updatedAt`. Needs the scope `catalog:write` (the demo account `staff@flotilla.shop` / `staff-demo-pass` has it).",
  params: skuParams,
  body: contract(legacyApi, 'legacy-api.ts', 'UpdateProductRequest'),
  response: { kind: 'contract', status: 200, body: contract(legacyApi, 'legacy-api.ts', 'ProductView') },
  serviceErrorCodes: legacyApi.LegacyErrorCode,
  errors: [
    {
      status: 400,
      code: 'VALIDATION_FAILED',
      when: 'a malformed SKU or body',
      from: 'service',
      details: ValidationDetails,
    },
    { status: 404, code: 'PRODUCT_NOT_FOUND', when: 'no product has this SKU', from: 'service' },
  ],
  examples: [
    {
      title: 'Staff lower a price',
      caller: 'staff',
      request: { params: { sku: 'BREW-001' }, body: { priceMinor: 8500 } },
      response: { status: 200, body: { ...kettle, priceMinor: 8500, updatedAt: '2026-11-27T07:47:12.927Z' } },
    },
    {
      title: 'A customer without `catalog:write`',
      caller: 'customer',
      request: { params: { sku: 'TEA-001' }, body: { priceMinor: 1290 } },
      response: {
        status: 403,
        body: {
          error: {
            code: 'INSUFFICIENT_SCOPE',
            message: 'this route needs the scope(s) catalog:write',
            retryable: false,
          },
        },
      },
    },
    {
      title: 'An unknown product',
      caller: 'staff',
      request: { params: { sku: 'NOPE-001' }, body: { priceMinor: 8900 } },
      response: {
        status: 404,
        body: {
          error: {
            code: 'PRODUCT_NOT_FOUND',
            message: 'no product NOPE-001',
            details: { sku: 'NOPE-001' },
            retryable: false,
          },
        },
      },
    },
    {
      title: 'A negative price',
      caller: 'staff',
      request: { params: { sku: 'TEA-001' }, body: { priceMinor: -1 } },
      response: {
        status: 400,
        body: {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'body.priceMinor: Too small: expected number to be >=0',
            details: [
              {
                location: 'body',
                field: 'priceMinor',
                code: 'too_small',
                message: 'Too small: expected number to be >=0',
              },
            ],
            retryable: false,
          },
        },
      },
    },
  ],
};
