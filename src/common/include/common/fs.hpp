// Durable file writes. Settings, the vault key and the refresh queue all go
// through atomic_write so a crash or a full disk never leaves a half file.
#pragma once
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace pb::common::fs {

// Writes to "<path>.tmp.<random>", fsyncs it, renames over `path` and fsyncs
// the directory. On any failure the old file is untouched and the error
// (Errc::storage) says why in words ("cannot write …: No space left on
// device"). `mode` applies to the new file (0600 for secrets).
[[nodiscard]] common::Status atomic_write(const std::string& path, std::string_view content, unsigned mode = 0644);

// Reads a whole file. Errc::not_found when it does not exist, Errc::storage
// when it cannot be read.
[[nodiscard]] common::Result<std::string> read_file(const std::string& path);

// fsyncs a directory, so that a rename in it reaches the disk.
[[nodiscard]] common::Status sync_directory(const std::string& dir);

std::string join(std::string_view dir, std::string_view name);
// The directory holding `path` ("." for a bare name).
std::string parent(const std::string& path);

}  // namespace pb::common::fs
