// Durable file writes. Settings, the vault key and the refresh queue all go
// through atomic_write so a crash or a full disk never leaves a half file.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pb::fs {

// Writes to "<path>.tmp.<random>", fsyncs it, renames over `path` and fsyncs
// the directory. On any failure the old file is untouched and `error` says
// why in words ("No space left on device writing …"). `mode` applies to
// the new file (0600 for secrets).
bool atomic_write(const std::string& path, std::string_view content, std::string* error, unsigned mode = 0644);

// Reads a whole file; nullopt when it does not exist or cannot be read
// (`error` says which, empty when the file is simply absent).
std::optional<std::string> read_file(const std::string& path, std::string* error = nullptr);

std::string join(std::string_view dir, std::string_view name);

}  // namespace pb::fs
