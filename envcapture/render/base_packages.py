"""Packages every image of a Debian release already has: Essential, Priority required/important, and what they
depend on (first alternative, amd64). A kit never pins these: the base image brings its own versions, and a pin
of libc6 or base-files breaks at the next point release. Read from the base image itself during `build`
(its dpkg status); this dated table is for `generate`, which cannot look inside an image.

Made by scripts/base_packages.py from deb.debian.org/debian/dists/<codename>/main/binary-amd64/Packages.xz on
TABLE_DATE. Ubuntu's archive was not reachable when the table was made; on every distribution the manifest itself
says which packages are the base's (the dpkg probe records Essential, Priority and dependencies), which covers
Ubuntu and any other Debian-like release without a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_DATE = "2026-11-29"

# Debian VERSION_ID -> package names.
DEBIAN: dict[str, frozenset[str]] = {
    "11": frozenset("""
        adduser apt apt-utils base-files base-passwd bash bsdutils coreutils cpio cron dash debconf
        debconf-i18n debian-archive-keyring debianutils diffutils dmidecode dmsetup dpkg e2fsprogs fdisk
        findutils gawk gcc-10-base gcc-9-base gpgv grep gzip hostname ifupdown init init-system-helpers
        iproute2 iputils-ping isc-dhcp-client isc-dhcp-common kmod less libacl1 libapparmor1 libapt-pkg6.0
        libargon2-1 libattr1 libaudit-common libaudit1 libblkid1 libbpf0 libbsd0 libbz2-1.0 libc-bin libc6
        libcap-ng0 libcap2 libcap2-bin libcom-err2 libcrypt1 libcryptsetup12 libdb5.3 libdebconfclient0
        libdevmapper1.02.1 libdns-export1110 libedit2 libelf1 libestr0 libext2fs2 libfastjson4 libfdisk1
        libffi7 libgcc-s1 libgcrypt20 libgmp10 libgnutls30 libgpg-error0 libgssapi-krb5-2 libhogweed6
        libidn2-0 libip4tc2 libisc-export1105 libjansson4 libjson-c5 libk5crypto3 libkeyutils1 libkmod2
        libkrb5-3 libkrb5support0 liblocale-gettext-perl liblognorm5 liblz4-1 liblzma5 libmd0 libmnl0
        libmount1 libmpfr6 libncurses6 libncursesw6 libnettle8 libnewt0.52 libnftables1 libnftnl11 libnsl2
        libp11-kit0 libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libpcre3 libpopt0
        libprocps8 libreadline8 libseccomp2 libselinux1 libsemanage-common libsemanage1 libsepol1
        libsigsegv2 libslang2 libsmartcols1 libss2 libssl1.1 libstdc++6 libsystemd0 libtasn1-6
        libtext-charwidth-perl libtext-iconv-perl libtext-wrapi18n-perl libtinfo6 libtirpc-common libtirpc3
        libudev1 libunistring2 libuuid1 libxtables12 libxxhash0 libzstd1 login logrotate logsave lsb-base
        mawk mount nano ncurses-base ncurses-bin netbase nftables passwd perl-base procps readline-common
        rsyslog sed sensible-utils systemd systemd-sysv sysvinit-utils tar tasksel tasksel-data tzdata udev
        util-linux vim-common vim-tiny whiptail xxd zlib1g
    """.split()),
    "12": frozenset("""
        adduser apt apt-utils base-files base-passwd bash bsdutils coreutils cpio cron cron-daemon-common
        dash debconf debconf-i18n debian-archive-keyring debianutils diffutils dmidecode dmsetup dpkg
        e2fsprogs fdisk findutils gawk gcc-12-base gpgv grep gzip hostname ifupdown init init-system-helpers
        iproute2 iputils-ping isc-dhcp-client isc-dhcp-common kmod less libacl1 libapparmor1 libapt-pkg6.0
        libargon2-1 libattr1 libaudit-common libaudit1 libblkid1 libbpf1 libbsd0 libbz2-1.0 libc-bin libc6
        libcap-ng0 libcap2 libcap2-bin libcom-err2 libcrypt1 libcryptsetup12 libdb5.3 libdebconfclient0
        libdevmapper1.02.1 libedit2 libelf1 libext2fs2 libfdisk1 libffi8 libfile-find-rule-perl libgcc-s1
        libgcrypt20 libgdbm-compat4 libgdbm6 libgmp10 libgnutls30 libgpg-error0 libgssapi-krb5-2 libhogweed6
        libidn2-0 libip4tc2 libjansson4 libjson-c5 libk5crypto3 libkeyutils1 libkmod2 libkrb5-3
        libkrb5support0 liblocale-gettext-perl liblz4-1 liblzma5 libmd0 libmnl0 libmount1 libmpfr6
        libncursesw6 libnettle8 libnewt0.52 libnftables1 libnftnl11 libnumber-compare-perl libp11-kit0
        libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libperl5.36 libpopt0
        libproc2-0 libreadline8 libseccomp2 libselinux1 libsemanage-common libsemanage2 libsepol2
        libsigsegv2 libslang2 libsmartcols1 libss2 libssl3 libstdc++6 libsystemd-shared libsystemd0
        libtasn1-6 libtext-charwidth-perl libtext-glob-perl libtext-iconv-perl libtext-wrapi18n-perl
        libtinfo6 libtirpc-common libtirpc3 libudev1 libunistring2 libuuid1 libxtables12 libxxhash0 libzstd1
        login logrotate logsave mawk mount nano ncurses-base ncurses-bin netbase nftables passwd perl
        perl-base perl-modules-5.36 procps readline-common sed sensible-utils systemd systemd-sysv
        sysvinit-utils tar tasksel tasksel-data tzdata udev usrmerge util-linux util-linux-extra vim-common
        vim-tiny whiptail zlib1g
    """.split()),
    "13": frozenset("""
        adduser apt apt-utils base-files base-passwd bash bsdutils coreutils cpio cron cron-daemon-common
        dash debconf debconf-i18n debian-archive-keyring debianutils dhcpcd-base diffutils dmidecode dpkg
        e2fsprogs fdisk findutils gawk gcc-14-base grep gzip hostname ifupdown init init-system-helpers
        iproute2 iputils-ping kmod less libacl1 libapparmor1 libapt-pkg7.0 libattr1 libaudit-common
        libaudit1 libblkid1 libbpf1 libbsd0 libbz2-1.0 libc-bin libc6 libcap-ng0 libcap2 libcap2-bin
        libcom-err2 libcrypt1 libdb5.3t64 libdebconfclient0 libedit2 libelf1t64 libext2fs2t64 libfdisk1
        libgcc-s1 libgmp10 libgssapi-krb5-2 libhogweed6t64 libidn2-0 libjansson4 libk5crypto3 libkeyutils1
        libkmod2 libkrb5-3 libkrb5support0 liblastlog2-2 liblocale-gettext-perl liblz4-1 liblzma5 libmd0
        libmnl0 libmount1 libmpfr6 libncursesw6 libnettle8t64 libnewt0.52 libnftables1 libnftnl11
        libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libpopt0 libproc2-0
        libreadline8t64 libseccomp2 libselinux1 libsemanage-common libsemanage2 libsepol2 libsigsegv2
        libslang2 libsmartcols1 libsqlite3-0 libss2 libssl3t64 libstdc++6 libsystemd-shared libsystemd0
        libtext-charwidth-perl libtext-iconv-perl libtext-wrapi18n-perl libtinfo6 libtirpc-common
        libtirpc3t64 libudev1 libunistring5 libuuid1 libxtables12 libxxhash0 libzstd1 linux-sysctl-defaults
        login login.defs logrotate logsave mawk mount nano ncurses-base ncurses-bin netbase nftables
        openssl-provider-legacy passwd perl-base procps readline-common sed sensible-utils sqv systemd
        systemd-sysv sysvinit-utils tar tzdata udev util-linux vim-common vim-tiny whiptail zlib1g
    """.split()),
}


def left_to_base(os_id: str | None, version: str | None) -> frozenset[str]:
    """Names a kit for this distribution release does not pin (empty when the table has no row)."""
    if os_id == "debian" and version:
        return DEBIAN.get(version.split(".")[0], frozenset())
    return frozenset()


# dpkg's priorities of the packages every installation has (Debian Policy 2.5).
BASE_PRIORITIES = ("required", "important")


@dataclass(frozen=True)
class Marked:
    names: frozenset[str]  # Essential, Priority required/important, and what those depend on
    marks_recorded: bool  # the manifest records Essential/Priority (envcapture's dpkg probe since they existed)
    depends_recorded: bool


def marked_in_manifest(packages: list[dict]) -> Marked:
    """The packages the manifest itself marks as the base's: Essential or Priority required/important, and the
    installed packages those depend on, transitively (when the manifest records dependencies)."""
    depends: dict[str, set[str]] = {}
    seeds = set()
    for package in packages:
        name = package.get("name")
        depends.setdefault(name, set()).update(package.get("depends") or ())
        if package.get("essential") or package.get("priority") in BASE_PRIORITIES:
            seeds.add(name)
    names, todo = set(seeds), list(seeds)
    while todo:
        for dependency in depends.get(todo.pop(), ()):
            if dependency not in names:
                names.add(dependency)
                todo.append(dependency)
    return Marked(frozenset(names), any("essential" in p or "priority" in p for p in packages),
                  any("depends" in p for p in packages))
