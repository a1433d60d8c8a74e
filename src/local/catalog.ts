// The demo shop's logic layer, shared by the legacy app and the functions so both answer byte for byte alike.

export const SCENES = ['home', 'item', 'cart'] as const;
export type Scene = (typeof SCENES)[number];

export const CATEGORIES = [
  'books',
  'electronics',
  'home',
  'kitchen',
  'outdoors',
  'sports',
  'toys',
  'beauty',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const FEEDBACK_ACTIONS = ['view', 'click', 'like', 'dislike', 'add_to_cart', 'purchase'] as const;

/** Feedback is a few ids; a bigger body is a client bug or an attack, so both sides refuse it alike. */
export const FEEDBACK_LIMIT_BYTES = 64 * 1024;

export const CATALOG_SIZE = 500;
const DEFAULT_SIZE = 10;
const MAX_SIZE = 50;
/** The cart scene suggests add-ons: cheap items only. */
const ADD_ON_MAX_PRICE = 50;
const ANONYMOUS = 'anonymous';
const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const SIZE = /^[0-9]{1,3}$/;

export type Item = Readonly<{
  id: string;
  title: string;
  category: Category;
  price: number;
  currency: 'CNY';
  score: number;
  rating: number;
  reviewCount: number;
  stock: number;
  imageUrl: string;
  tags: readonly string[];
}>;

export type Recommendation = Readonly<{
  userId: string;
  scene: Scene;
  size: number;
  items: ReadonlyArray<Item & { reason: string }>;
}>;

/** The body of every 4xx the shop API sends; `status` is also the HTTP status. */
export type Problem = Readonly<{ status: number; error: string; message: string }>;

export type RecommendQuery = Readonly<{
  userId?: string | null | undefined;
  scene?: string | null | undefined;
  size?: string | number | null | undefined;
}>;

export type FeedbackInput = Readonly<{ userId?: unknown; itemId?: unknown; action?: unknown }>;

function problem(status: number, error: string, message: string): Problem {
  return Object.freeze({ status, error, message });
}

export const problems = Object.freeze({
  routeNotFound: problem(404, 'not_found', 'no such route'),
  itemNotFound: problem(404, 'not_found', 'no item with this id'),
  methodNotAllowed: problem(405, 'method_not_allowed', 'this method is not allowed on this route'),
  invalidJson: problem(400, 'bad_request', 'the body is not valid JSON'),
  bodyTooLarge: problem(413, 'payload_too_large', 'the body is larger than 64 KiB'),
  internal: problem(500, 'internal', 'internal error'),
});

export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'error' in value && 'status' in value;
}

/** mulberry32: tiny, fast and good enough to make a catalogue and a shuffle reproducible. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: the shop seeds each user's shuffle from their id, so one user always sees one list. */
function hashText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const NOUNS: Readonly<Record<Category, readonly string[]>> = {
  books: ['Novel', 'Cookbook', 'Atlas', 'Biography', 'Poetry Collection'],
  electronics: ['Headphones', 'Charger', 'Speaker', 'Keyboard', 'Power Bank'],
  home: ['Lamp', 'Cushion', 'Rug', 'Vase', 'Wall Clock'],
  kitchen: ['Kettle', 'Knife Set', 'Teapot', 'Frying Pan', 'Spice Rack'],
  outdoors: ['Tent', 'Backpack', 'Lantern', 'Hammock', 'Water Bottle'],
  sports: ['Yoga Mat', 'Dumbbell', 'Racket', 'Jump Rope', 'Cycling Gloves'],
  toys: ['Puzzle', 'Kite', 'Robot Kit', 'Plush Bear', 'Building Blocks'],
  beauty: ['Face Cream', 'Hair Oil', 'Lip Balm', 'Perfume', 'Sun Screen'],
};
const ADJECTIVES = [
  'Classic',
  'Compact',
  'Deluxe',
  'Eco',
  'Handmade',
  'Light',
  'Modern',
  'Pocket',
  'Pro',
  'Vintage',
];
const TAGS = ['new', 'bestseller', 'gift', 'limited', 'free-shipping', 'eco', 'imported', 'sale'];

function pick<T>(list: readonly T[], random: () => number): T {
  return list[Math.floor(random() * list.length)]!;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function makeItem(index: number, random: () => number): Item {
  const id = `sku-${String(index + 1).padStart(4, '0')}`;
  // Round-robin categories so each holds at least 62 items: enough for the largest page (50).
  const category = CATEGORIES[index % CATEGORIES.length]!;
  const first = pick(TAGS, random);
  const second = pick(TAGS, random);
  return Object.freeze({
    id,
    title: `${pick(ADJECTIVES, random)} ${pick(NOUNS[category], random)}`,
    category,
    price: round(5 + random() * 195, 2),
    currency: 'CNY',
    score: round(random(), 4),
    rating: round(3 + random() * 2, 1),
    reviewCount: Math.floor(random() * 5000),
    stock: Math.floor(random() * 200),
    imageUrl: `https://img.example.com/items/${id}.jpg`,
    tags: Object.freeze(first === second ? [first] : [first, second]),
  });
}

function makeCatalog(): readonly Item[] {
  const random = seededRandom(20240601);
  return Object.freeze(Array.from({ length: CATALOG_SIZE }, (_, index) => makeItem(index, random)));
}

export const CATALOG: readonly Item[] = makeCatalog();
const BY_ID = new Map(CATALOG.map((item) => [item.id, item]));
const ADD_ONS = CATALOG.filter((item) => item.price < ADD_ON_MAX_PRICE);
const BY_CATEGORY = new Map(CATEGORIES.map((c) => [c, CATALOG.filter((item) => item.category === c)]));

export function getItem(id: string): Item | undefined {
  return BY_ID.get(id);
}

function parseSize(size: RecommendQuery['size']): number | undefined {
  if (size === undefined || size === null || size === '') return DEFAULT_SIZE;
  const text = String(size);
  if (!SIZE.test(text)) return undefined;
  const value = Number(text);
  return value >= 1 && value <= MAX_SIZE ? value : undefined;
}

function isScene(value: string): value is Scene {
  return (SCENES as readonly string[]).includes(value);
}

/** The candidates and the reason shown for them: the item page suggests the user's favourite category. */
function candidates(userId: string, scene: Scene): { pool: readonly Item[]; reason: string } {
  if (scene === 'cart') return { pool: ADD_ONS, reason: 'add_on' };
  if (scene === 'home') return { pool: CATALOG, reason: 'for_you' };
  const favourite = CATEGORIES[hashText(userId) % CATEGORIES.length]!;
  return { pool: BY_CATEGORY.get(favourite)!, reason: `more_${favourite}` };
}

/** `count` distinct items by a partial Fisher–Yates shuffle driven by `random`. */
function sample(pool: readonly Item[], count: number, random: () => number): Item[] {
  const copy = pool.slice();
  const n = Math.min(count, copy.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

/** A page of recommendations, the same for the same user, scene and size; a Problem on bad input. */
export function recommend(query: RecommendQuery): Recommendation | Problem {
  const userId = query.userId || ANONYMOUS;
  if (!USER_ID.test(userId)) {
    return problem(400, 'bad_request', 'userId must be 1-64 of A-Z a-z 0-9 _ . : @ -');
  }
  const scene = query.scene || 'home';
  if (!isScene(scene)) return problem(400, 'bad_request', `scene must be one of ${SCENES.join(', ')}`);
  const size = parseSize(query.size);
  if (size === undefined) return problem(400, 'bad_request', `size must be an integer from 1 to ${MAX_SIZE}`);
  const { pool, reason } = candidates(userId, scene);
  const picked = sample(pool, size, seededRandom(hashText(`${userId}/${scene}`)));
  picked.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  return { userId, scene, size, items: picked.map((item) => ({ ...item, reason })) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks one feedback event (the parsed JSON body). The user comes from the body, else from the
 * caller's `x-user-id`. Nothing is stored: the demo only needs the answer.
 */
export function recordFeedback(input: unknown, fallbackUserId?: string): { accepted: true } | Problem {
  if (!isRecord(input)) return problem(400, 'bad_request', 'the body must be a JSON object');
  const { userId = fallbackUserId, itemId, action } = input as FeedbackInput;
  if (typeof userId !== 'string' || !USER_ID.test(userId)) {
    return problem(400, 'bad_request', 'userId must be 1-64 of A-Z a-z 0-9 _ . : @ -');
  }
  if (typeof itemId !== 'string' || !BY_ID.has(itemId)) {
    return problem(400, 'bad_request', 'itemId is not a known item');
  }
  if (typeof action !== 'string' || !(FEEDBACK_ACTIONS as readonly string[]).includes(action)) {
    return problem(400, 'bad_request', `action must be one of ${FEEDBACK_ACTIONS.join(', ')}`);
  }
  return { accepted: true };
}
