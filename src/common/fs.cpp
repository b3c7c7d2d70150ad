#include "common/fs.hpp"

#include "common/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace pb::common::fs {

std::string join(std::string_view dir, std::string_view name) {
    std::string out(dir);
    if (!out.empty() && out.back() != '/') out.push_back('/');
    out += name;
    return out;
}

std::string parent(const std::string& path) {
    auto pos = path.rfind('/');
    if (pos == std::string::npos) return ".";
    if (pos == 0) return "/";
    return path.substr(0, pos);
}

common::Status atomic_write(const std::string& path, std::string_view content, unsigned mode) {
    const std::string tmp = path + ".tmp." + text::random_hex(6);
    auto fail = [&](const char* what, int err) -> common::Status {
        ::unlink(tmp.c_str());
        return common::Error(common::Errc::storage, std::string(what) + " " + tmp + ": " + std::strerror(err));
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return fail("cannot create", errno);
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return fail("cannot write", err);
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        return fail("cannot flush", err);
    }
    if (::close(fd) != 0) return fail("cannot close", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename", errno);
    // The rename itself must reach the disk too. The new file is in place
    // whatever this says, so a failure here is not the caller's failure.
    (void)sync_directory(parent(path));
    return {};
}

common::Status sync_directory(const std::string& dir) {
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return common::Error(common::Errc::storage, "cannot open " + dir + ": " + std::strerror(errno));
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return common::Error(common::Errc::storage, "cannot flush " + dir + ": " + std::strerror(err));
    return {};
}

common::Result<std::string> read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return common::Error(common::Errc::not_found, path + " does not exist");
        return common::Error(common::Errc::storage, path + ": " + std::strerror(errno));
    }
    std::string out;
    char buf[65536];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            ::close(fd);
            return common::Error(common::Errc::storage, path + ": " + std::strerror(err));
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

}  // namespace pb::common::fs
