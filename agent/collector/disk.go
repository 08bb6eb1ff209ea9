package collector

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/disk"
)

// diskCollector reports the usage of each real mounted file system and the block device
// throughput since its previous call.
type diskCollector struct {
	io rateTracker
}

// Name implements Collector.
func (*diskCollector) Name() string { return "disk" }

// Collect implements Collector. A mount whose usage cannot be read is left out and reported in
// the error; the other mounts and the throughput are still filled in. The first call reports no
// throughput: there is no window yet.
//
// It lists all mounts (disk.Partitions(true)) and filters them itself: with false, gopsutil
// drops every "nodev" file system, which includes the overlay root of a container.
func (c *diskCollector) Collect(ctx context.Context, now time.Time, m *fleetv1.HostMetrics) error {
	var errs []error
	parts, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		errs = append(errs, fmt.Errorf("list mounts: %w", err))
	}
	for _, p := range filterPartitions(parts) {
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("usage of %s: %w", p.Mountpoint, err))
			continue
		}
		d, err := diskUsage(p, u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil {
			m.Disks = append(m.Disks, d)
		}
	}

	stats, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("read disk counters: %w", err))
	} else {
		m.DiskReadBytesPerSecond, m.DiskWriteBytesPerSecond = c.io.update(now, diskCounters(stats))
	}
	return errors.Join(errs...)
}

// pseudoFS are file system types that hold no user data on a disk of this host: kernel
// interfaces, memory-backed file systems (counted in memory), read-only images that are always
// full, and network file systems (another host's disk, and a statfs that can hang).
var pseudoFS = map[string]bool{
	"9p": true, "afs": true, "autofs": true, "binfmt_misc": true, "bpf": true, "ceph": true,
	"cgroup": true, "cgroup2": true, "cifs": true, "configfs": true, "debugfs": true,
	"devfs": true, "devpts": true, "devtmpfs": true, "efivarfs": true, "erofs": true,
	"fuse": true, "fusectl": true, "glusterfs": true, "hugetlbfs": true, "iso9660": true,
	"lustre": true, "mqueue": true, "nfs": true, "nfs4": true, "nsfs": true, "proc": true,
	"procfs": true, "pstore": true, "ramfs": true, "rpc_pipefs": true, "securityfs": true,
	"selinuxfs": true, "smb3": true, "smbfs": true, "squashfs": true, "sysfs": true,
	"tmpfs": true, "tracefs": true,
}

// pseudoMountRoots are directories whose mounts are never the host's own storage.
var pseudoMountRoots = []string{"/dev", "/proc", "/sys", "/run/credentials", "/var/lib/docker", "/var/lib/containers"}

// filterPartitions keeps the mounts worth reporting, in order:
//   - no pseudo, memory-backed, image or network file system (pseudoFS, and every "fuse.*"
//     type; "fuseblk", a FUSE driver on a local block device, stays);
//   - overlay only when mounted at "/": that is a container's root, while overlays elsewhere are
//     other containers' roots on a container host;
//   - nothing under pseudoMountRoots, and no bind mount;
//   - one entry per mountpoint (the last, which shadows earlier ones) and per device path (the
//     first, so btrfs subvolumes and re-mounts of one device count once).
func filterPartitions(parts []disk.PartitionStat) []disk.PartitionStat {
	last := make(map[string]int, len(parts))
	for i, p := range parts {
		last[p.Mountpoint] = i
	}
	seenDevice := make(map[string]bool)
	var keep []disk.PartitionStat
	for i, p := range parts {
		switch {
		case last[p.Mountpoint] != i,
			pseudoFS[p.Fstype], strings.HasPrefix(p.Fstype, "fuse."),
			p.Fstype == "overlay" && p.Mountpoint != "/",
			underAny(p.Mountpoint, pseudoMountRoots),
			slices.Contains(p.Opts, "bind"):
			continue
		}
		if strings.HasPrefix(p.Device, "/") {
			if seenDevice[p.Device] {
				continue
			}
			seenDevice[p.Device] = true
		}
		keep = append(keep, p)
	}
	return keep
}

// underAny reports whether path is one of roots or lies below one of them.
func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

// errBadDiskUsage reports file system figures that cannot be true.
var errBadDiskUsage = errors.New("impossible disk usage")

// diskUsage turns one mount's statfs figures into a DiskUsage. A file system with no blocks
// (a pseudo file system the filter did not know) gives nil. The used share is taken, like df,
// over used plus free-for-users, so blocks reserved for root do not hide a full disk.
func diskUsage(p disk.PartitionStat, u *disk.UsageStat) (*fleetv1.DiskUsage, error) {
	if u.Total == 0 {
		return nil, nil
	}
	if u.Used > u.Total || u.Free > u.Total-u.Used {
		return nil, fmt.Errorf("%w on %s: total %d, used %d, free %d", errBadDiskUsage, p.Mountpoint, u.Total, u.Used, u.Free)
	}
	return &fleetv1.DiskUsage{
		Mountpoint:  p.Mountpoint,
		Device:      p.Device,
		Fstype:      p.Fstype,
		TotalBytes:  u.Total,
		UsedBytes:   u.Used,
		FreeBytes:   u.Free,
		UsedPercent: percent(u.Used, u.Used+u.Free),
	}, nil
}

// stackedOrPartition matches block devices whose traffic is also counted on a whole physical
// disk (partitions, device-mapper and md devices) or that are memory- or file-backed.
var stackedOrPartition = regexp.MustCompile(`^(?:(?:loop|ram|zram|fd|dm-|md)\d+|(?:h|s|v|xv)d[a-z]+\d+|(?:nvme\d+n\d+|mmcblk\d+)p\d+)`)

// diskCounters keeps the whole physical disks of stats, so that a byte read through
// LVM, a partition or RAID is not counted twice.
func diskCounters(stats map[string]disk.IOCountersStat) map[string]ioCounter {
	out := make(map[string]ioCounter, len(stats))
	for name, s := range stats {
		if stackedOrPartition.MatchString(name) {
			continue
		}
		out[name] = ioCounter{in: s.ReadBytes, out: s.WriteBytes}
	}
	return out
}
