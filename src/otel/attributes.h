#pragma once

// The attributes of an OTLP span, span event, scope or resource, as the mapping reads them.
//
// The mapping asks each span for dozens of keys, most of them absent (every convention's names are
// tried in turn), and iterates all of them in key order for metadata. Entries are kept in one
// vector sorted by key, with an open-addressing hash index over it: a few allocations per set
// instead of one per attribute, and a lookup hashes the key once and usually compares one entry
// (a search tree would compare five or so, each a memcmp over shared prefixes such as "gen_ai.").
// Keys made to collide cost a binary search per lookup, not more (see BuildIndex).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace langfuse::otel {

class Attributes {
 public:
  using Entry = std::pair<std::string, nlohmann::json>;

  Attributes() = default;
  //! Entries in arrival order; a repeated key keeps its last value, as Langfuse's object of
  //! attributes does.
  explicit Attributes(std::vector<Entry> entries);
  //! The members of a JSON object (anything else has no attributes). For tests and fixtures.
  explicit Attributes(const nlohmann::json& object);
  //! `attributes = {{"key", value}, ...}`, for tests and fixtures.
  Attributes(nlohmann::json::initializer_list_t init) : Attributes(nlohmann::json(init)) {}

  //! The value under `key`, or nullptr.
  const nlohmann::json* Find(std::string_view key) const;
  //! The value under `key`; JSON null when there is none.
  const nlohmann::json& operator[](std::string_view key) const;

  //! The entries in key order (byte-wise, as std::map<std::string> orders them).
  const std::vector<Entry>& items() const { return entries_; }
  size_t size() const { return entries_.size(); }
  //! Whether lookups go through the hash index; false when the keys collide too much (and when
  //! there are none).
  bool hashed() const { return !slots_.empty(); }
  bool empty() const { return entries_.empty(); }

  //! A JSON object of the same members.
  nlohmann::json ToJson() const;

 private:
  void BuildIndex();

  std::vector<Entry> entries_;
  //! Power-of-two table of entry index + 1 (0 = free), at most half full; empty when there are
  //! no entries or their keys collide too much (lookups then search entries_).
  std::vector<uint32_t> slots_;
};

//! Appends the compact JSON text of the attributes as an object: the same bytes as
//! WriteJson(out, attributes.ToJson()) without building the object.
void WriteJson(std::string& out, const Attributes& attributes);

}  // namespace langfuse::otel
