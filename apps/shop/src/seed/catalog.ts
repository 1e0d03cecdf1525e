// The shop's catalogue: every product with its price (EUR minor units) and initial stock. Plain
// data, deterministic: the monolith seeds its products and stock from it, inventory its stock.

/** A product of the seed. */
export interface SeedProduct {
  /** `<CATEGORY PREFIX>-<3 digits>`, e.g. `TEA-001`. */
  readonly sku: string;
  readonly name: string;
  readonly description: string;
  /** The category id, e.g. `tea` (see {@link seedCategories}). */
  readonly category: string;
  /** Price in EUR cents. */
  readonly priceMinor: number;
  readonly currency: 'EUR';
  /** Units in the warehouse when the shop first starts. */
  readonly initialStock: number;
}

/** A category of the seed: its id, its title and the SKU prefix of its products. */
export interface SeedCategory {
  readonly id: string;
  readonly title: string;
  readonly prefix: string;
}

/** The categories, in display order. */
export const seedCategories: readonly SeedCategory[] = [
  { id: 'tea', title: 'Tea', prefix: 'TEA' },
  { id: 'coffee', title: 'Coffee', prefix: 'COF' },
  { id: 'teaware', title: 'Teaware', prefix: 'WARE' },
  { id: 'brewing', title: 'Brewing gear', prefix: 'BREW' },
  { id: 'snacks', title: 'Snacks', prefix: 'SNK' },
  { id: 'gifts', title: 'Gifts', prefix: 'GIFT' },
];

/** The product whose price ends in 13 cents: ordering one is declined by the payment demo rule. */
export const DECLINED_DEMO_SKU = 'GIFT-013';

/** A product with little stock, to show OUT_OF_STOCK in a demo. */
export const LOW_STOCK_SKU = 'TEA-012';

// [name, description, price in cents, initial stock] per category, in SKU order.
type Row = readonly [name: string, description: string, priceMinor: number, initialStock: number];

const rows: Readonly<Record<string, readonly Row[]>> = {
  tea: [
    ['Sencha Kagoshima', 'Grassy, bright Japanese green tea, first flush. 100 g.', 1290, 400],
    ['Gyokuro Yame', 'Shade-grown green tea with a deep umami sweetness. 50 g.', 2450, 120],
    ['Darjeeling First Flush', 'Floral, muscatel black tea from the spring picking. 100 g.', 1590, 300],
    ['Assam Breakfast', 'Malty, full-bodied black tea that takes milk well. 250 g.', 990, 600],
    ['Earl Grey Bergamot', 'Ceylon black tea scented with Calabrian bergamot. 100 g.', 890, 800],
    ['Lapsang Souchong', 'Pine-smoked black tea from the Wuyi mountains. 100 g.', 1190, 250],
    ['Tie Guan Yin', 'Lightly oxidised oolong with orchid notes. 100 g.', 1790, 200],
    ['Da Hong Pao', 'Roasted rock oolong, mineral and long-lasting. 50 g.', 2890, 90],
    ['Silver Needle', 'White tea of unopened buds, honeyed and delicate. 50 g.', 2190, 110],
    ['Pu-erh Shu 2015', 'Aged ripe pu-erh cake, earthy and smooth. 357 g.', 3990, 60],
    ['Rooibos Vanilla', 'Caffeine-free South African rooibos with vanilla. 100 g.', 690, 700],
    ['Matcha Ceremonial', 'Stone-ground first-harvest tencha from Uji. 30 g.', 2990, 3],
  ],
  coffee: [
    ['Ethiopia Yirgacheffe', 'Washed heirloom arabica: jasmine, lemon, bergamot. 250 g beans.', 1490, 500],
    ['Colombia Huila', 'Caramel and red apple, medium roast. 250 g beans.', 1290, 650],
    ['Kenya AA Nyeri', 'Blackcurrant and grapefruit, bright acidity. 250 g beans.', 1690, 300],
    ['Guatemala Antigua', 'Cocoa and spice from volcanic soil. 250 g beans.', 1390, 450],
    ['Sumatra Mandheling', 'Wet-hulled, heavy body, cedar and dark chocolate. 250 g beans.', 1350, 380],
    ['Brazil Cerrado', 'Nutty and low in acidity, the espresso workhorse. 1 kg beans.', 2990, 260],
    ['Espresso Blend No. 5', 'Brazil and Ethiopia, roasted for milk drinks. 1 kg beans.', 3290, 300],
    ['Decaf Mexico', 'Swiss-water decaffeinated, milk chocolate notes. 250 g beans.', 1250, 220],
    ['Costa Rica Honey', 'Honey-processed, stone fruit and brown sugar. 250 g beans.', 1590, 180],
    ['Panama Geisha', 'Rare geisha variety, tea-like and floral. 100 g beans.', 4990, 40],
    ['Cold Brew Coarse', 'Coarse-ground blend for cold brewing. 500 g.', 1690, 340],
  ],
  teaware: [
    ['Kyusu Teapot', 'Tokoname clay side-handle teapot with a fine mesh. 300 ml.', 5900, 70],
    ['Gaiwan Porcelain', 'White porcelain lidded bowl for gongfu brewing. 120 ml.', 1900, 150],
    ['Yixing Teapot', 'Zisha clay teapot, seasons with every brew. 150 ml.', 8900, 30],
    ['Glass Teapot', 'Borosilicate teapot with a removable infuser. 800 ml.', 3490, 140],
    ['Tea Cups, Set of 4', 'Celadon-glazed cups. 80 ml each.', 2900, 160],
    ['Matcha Bowl', 'Hand-thrown chawan with a speckled glaze.', 3900, 80],
    ['Bamboo Whisk', 'Chasen with 100 prongs for whisking matcha.', 1490, 200],
    ['Tea Tray', 'Bamboo gongfu tray with a drainage drawer.', 4490, 60],
    ['Cast Iron Tetsubin', 'Japanese cast iron kettle for the stove. 1.2 l.', 11900, 25],
    ['Tea Caddy', 'Airtight tin caddy with an inner lid. 150 g capacity.', 1590, 300],
  ],
  brewing: [
    ['Gooseneck Kettle', 'Electric kettle with a temperature dial, 1 °C steps. 1 l.', 8900, 90],
    ['Pour-over Dripper', 'Ceramic cone dripper, size 02.', 2490, 210],
    ['Paper Filters', 'Bleached cone filters, size 02. Pack of 100.', 590, 1000],
    ['French Press', 'Double-wall stainless steel press. 1 l.', 4490, 120],
    ['Burr Grinder', 'Hand grinder with steel conical burrs.', 7900, 75],
    ['Digital Scale', 'Brewing scale with a timer, 0.1 g resolution.', 3290, 160],
    ['Milk Frother', 'Handheld frother with a stand.', 1990, 240],
    ['Moka Pot', 'Aluminium stovetop espresso maker, 6 cups.', 3490, 130],
    ['AeroPress', 'Immersion brewer with 350 micro-filters.', 3990, 170],
    ['Cold Brew Bottle', 'Glass bottle with a fine filter. 1 l.', 2790, 140],
    ['Thermometer', 'Clip-on milk and water thermometer.', 990, 280],
  ],
  snacks: [
    ['Almond Biscotti', 'Twice-baked Tuscan biscuits for dunking. 200 g.', 590, 500],
    ['Matcha Shortbread', 'Butter shortbread with ceremonial matcha. 150 g.', 690, 380],
    ['Dark Chocolate 72%', 'Single-origin Peruvian bar. 80 g.', 450, 900],
    ['Stroopwafels', 'Caramel syrup waffles from Gouda. Pack of 8.', 490, 640],
    ['Candied Ginger', 'Crystallised ginger pieces. 150 g.', 550, 300],
    ['Honey Madeleines', 'Small sponge cakes with acacia honey. Pack of 12.', 790, 260],
    ['Salted Caramels', 'Soft caramels with Guérande salt. 200 g.', 890, 310],
    ['Mochi Assortment', 'Red bean, matcha and sesame mochi. Box of 6.', 990, 150],
  ],
  gifts: [
    ['Tea Tasting Set', 'Six 25 g pouches across green, oolong and black teas.', 3490, 120],
    ['Coffee Discovery Box', 'Four 100 g bags from four continents.', 3990, 110],
    ['Gift Card 25', 'A EUR 25 voucher for the shop, sent by email.', 2500, 5000],
    ['Gift Card 50', 'A EUR 50 voucher for the shop, sent by email.', 5000, 5000],
    ['Advent Calendar', '24 teas for 24 days of December.', 4290, 80],
    ['Brewing Starter Kit', 'Dripper, filters, scale and a bag of Colombia Huila.', 6990, 50],
    ['Matcha Starter Kit', 'Bowl, whisk, scoop and 30 g of matcha.', 6490, 45],
    ['Mug, Flotilla Logo', 'Stoneware mug with the Flotilla boat. 350 ml.', 1490, 400],
    ['Tote Bag', 'Organic cotton tote with a tea-leaf print.', 1290, 350],
    ['Tea Subscription, 3 months', 'A new tea every month for three months.', 5490, 200],
    ['Postcard Set', 'Twelve postcards of tea gardens.', 690, 500],
    ['Gift Wrap', 'Recycled-paper wrapping with a hand-written card.', 390, 2000],
    [
      'Gift Card 10.13',
      'Demo product: its price ends in 13 cents, which the simulated payment provider always declines.',
      1013,
      1000,
    ],
  ],
};

function build(): readonly SeedProduct[] {
  const out: SeedProduct[] = [];
  for (const category of seedCategories) {
    const list = rows[category.id] ?? [];
    list.forEach(([name, description, priceMinor, initialStock], i) => {
      out.push({
        sku: `${category.prefix}-${String(i + 1).padStart(3, '0')}`,
        name,
        description,
        category: category.id,
        priceMinor,
        currency: 'EUR',
        initialStock,
      });
    });
  }
  return Object.freeze(out);
}

/** Every product of the seed, in category then SKU order (65 products). */
export const seedProducts: readonly SeedProduct[] = build();

/** Looks a seed product up by SKU. */
export function seedProduct(sku: string): SeedProduct | undefined {
  return seedProducts.find((p) => p.sku === sku);
}
