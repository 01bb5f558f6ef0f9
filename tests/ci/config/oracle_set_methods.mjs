// Loaded with `node --import` when the oracle test runs gitlab-ci-local.
// gitlab-ci-local 4.75 calls the ES2025 Set methods (Set.prototype.union, ...), which
// Node.js has only from version 22; this machine has Node 20. Defining them here changes
// nothing on a newer Node (each method is added only when missing).
const proto = Set.prototype;
const define = (name, fn) => {
  if (!proto[name]) {
    Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true });
  }
};
define("union", function (other) {
  const result = new Set(this);
  for (const x of other.keys()) result.add(x);
  return result;
});
define("intersection", function (other) {
  const result = new Set();
  for (const x of this) if (other.has(x)) result.add(x);
  return result;
});
define("difference", function (other) {
  const result = new Set();
  for (const x of this) if (!other.has(x)) result.add(x);
  return result;
});
define("symmetricDifference", function (other) {
  const result = new Set(this);
  for (const x of other.keys()) {
    if (this.has(x)) result.delete(x);
    else result.add(x);
  }
  return result;
});
define("isSubsetOf", function (other) {
  for (const x of this) if (!other.has(x)) return false;
  return true;
});
define("isSupersetOf", function (other) {
  for (const x of other.keys()) if (!this.has(x)) return false;
  return true;
});
define("isDisjointFrom", function (other) {
  for (const x of this) if (other.has(x)) return false;
  return true;
});
