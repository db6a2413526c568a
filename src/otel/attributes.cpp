#include "otel/attributes.h"

#include <algorithm>
#include <cstring>

#include "otel/json_writer.h"

namespace langfuse::otel {
namespace {

uint64_t Load(const char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// Attribute keys share long prefixes ("gen_ai.usage.", "langfuse.observation.") and often a
// suffix, so the hash mixes the length with words from the start, the middle and the end rather
// than reading every byte. A collision only costs another probe.
uint64_t KeyHash(std::string_view key) {
  const size_t n = key.size();
  uint64_t h = n * 0x9E3779B97F4A7C15ull;
  if (n >= 8) {
    h ^= Load(key.data(), 8) * 0xC2B2AE3D27D4EB4Full;
    h ^= Load(key.data() + n / 2 - 4, 8) * 0x165667B19E3779F9ull;
    h ^= Load(key.data() + n - 8, 8) * 0xD6E8FEB86659FD93ull;
  } else if (n > 0) {
    h ^= Load(key.data(), n) * 0xC2B2AE3D27D4EB4Full;
  }
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return h;
}

}  // namespace

Attributes::Attributes(std::vector<Entry> entries) : entries_(std::move(entries)) {
  // Stable, so among equal keys the last to arrive is last in its run and is the one kept.
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.first < b.first; });
  size_t kept = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (kept > 0 && entries_[kept - 1].first == entries_[i].first) {
      entries_[kept - 1].second = std::move(entries_[i].second);
    } else if (kept != i) {
      entries_[kept++] = std::move(entries_[i]);
    } else {
      ++kept;
    }
  }
  entries_.resize(kept);
  BuildIndex();
}

Attributes::Attributes(const nlohmann::json& object) {
  if (!object.is_object()) return;
  entries_.reserve(object.size());
  for (const auto& [key, value] : object.items()) entries_.emplace_back(key, value);  // already sorted, unique
  BuildIndex();
}

void Attributes::BuildIndex() {
  slots_.clear();
  if (entries_.empty()) return;
  size_t capacity = 8;
  while (capacity < entries_.size() * 2) capacity *= 2;
  slots_.assign(capacity, 0);
  const size_t mask = capacity - 1;
  // The keys are the client's, and the hash reads only three words of each: keys made to agree
  // there pile up in one run of slots, which each insertion and lookup would walk (quadratic in
  // the number of attributes). Past this many extra probes in all, the index is dropped and
  // lookups search the sorted entries instead.
  size_t probes_left = 8 * entries_.size() + 64;
  for (size_t i = 0; i < entries_.size(); ++i) {
    size_t at = KeyHash(entries_[i].first) & mask;
    while (slots_[at] != 0) {
      if (--probes_left == 0) {
        slots_.clear();
        return;
      }
      at = (at + 1) & mask;
    }
    slots_[at] = static_cast<uint32_t>(i + 1);
  }
}

const nlohmann::json* Attributes::Find(std::string_view key) const {
  if (slots_.empty()) {
    // No index: no entries, or keys that collide too much to hash (see BuildIndex).
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const Entry& e, std::string_view k) { return e.first < k; });
    return it != entries_.end() && it->first == key ? &it->second : nullptr;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t at = KeyHash(key) & mask;; at = (at + 1) & mask) {
    const uint32_t slot = slots_[at];
    if (slot == 0) return nullptr;
    const Entry& entry = entries_[slot - 1];
    if (entry.first == key) return &entry.second;
  }
}

const nlohmann::json& Attributes::operator[](std::string_view key) const {
  static const nlohmann::json kNull;
  const nlohmann::json* value = Find(key);
  return value != nullptr ? *value : kNull;
}

nlohmann::json Attributes::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, value] : entries_) out[key] = value;
  return out;
}

void WriteJson(std::string& out, const Attributes& attributes) { WriteJsonObject(out, attributes.items()); }

}  // namespace langfuse::otel
