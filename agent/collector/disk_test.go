package collector

import (
	"errors"
	"maps"
	"slices"
	"testing"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/disk"
	"google.golang.org/protobuf/proto"
)

func TestFilterPartitions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []disk.PartitionStat
		want  []string // kept mountpoints, in order
	}{
		{
			name: "container host",
			parts: []disk.PartitionStat{
				{Device: "/dev/nvme0n1p1", Mountpoint: "/", Fstype: "ext4"},
				{Device: "sysfs", Mountpoint: "/sys", Fstype: "sysfs"},
				{Device: "proc", Mountpoint: "/proc", Fstype: "proc"},
				{Device: "udev", Mountpoint: "/dev", Fstype: "devtmpfs"},
				{Device: "devpts", Mountpoint: "/dev/pts", Fstype: "devpts"},
				{Device: "tmpfs", Mountpoint: "/run", Fstype: "tmpfs"},
				{Device: "cgroup2", Mountpoint: "/sys/fs/cgroup", Fstype: "cgroup2"},
				{Device: "/dev/loop0", Mountpoint: "/snap/core22/1234", Fstype: "squashfs"},
				{Device: "/dev/nvme0n1p15", Mountpoint: "/boot/efi", Fstype: "vfat"},
				{Device: "/dev/nvme1n1", Mountpoint: "/data", Fstype: "xfs"},
				{Device: "/dev/nvme1n1", Mountpoint: "/srv/models", Fstype: "xfs", Opts: []string{"rw", "bind"}},
				{Device: "/dev/nvme0n1p1", Mountpoint: "/var/lib/docker/volumes/x/_data", Fstype: "ext4"},
				{Device: "overlay", Mountpoint: "/var/lib/docker/overlay2/abc/merged", Fstype: "overlay"},
				{Device: "overlay", Mountpoint: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs", Fstype: "overlay"},
				{Device: "nsfs", Mountpoint: "/run/docker/netns/abc", Fstype: "nsfs"},
				{Device: "server:/export", Mountpoint: "/mnt/nfs", Fstype: "nfs4"},
				{Device: "sshfs#me@host:", Mountpoint: "/mnt/ssh", Fstype: "fuse.sshfs"},
				{Device: "gvfsd-fuse", Mountpoint: "/run/user/1000/gvfs", Fstype: "fuse.gvfsd-fuse"},
				{Device: "/dev/sdb1", Mountpoint: "/mnt/usb", Fstype: "fuseblk"},
				{Device: "/dev/mapper/vg-home", Mountpoint: "/home", Fstype: "ext4"},
			},
			want: []string{"/", "/boot/efi", "/data", "/mnt/usb", "/home"},
		},
		{
			name: "inside a container",
			parts: []disk.PartitionStat{
				{Device: "overlay", Mountpoint: "/", Fstype: "overlay"},
				{Device: "proc", Mountpoint: "/proc", Fstype: "proc"},
				{Device: "tmpfs", Mountpoint: "/dev", Fstype: "tmpfs"},
				{Device: "shm", Mountpoint: "/dev/shm", Fstype: "tmpfs"},
				{Device: "/dev/vda", Mountpoint: "/etc/hosts", Fstype: "ext4", Opts: []string{"rw", "bind"}},
				{Device: "/dev/vda", Mountpoint: "/etc/resolv.conf", Fstype: "ext4", Opts: []string{"rw", "bind"}},
				{Device: "/dev/vdb", Mountpoint: "/data", Fstype: "ext4"},
			},
			want: []string{"/", "/data"},
		},
		{
			name: "btrfs subvolumes count once",
			parts: []disk.PartitionStat{
				{Device: "/dev/sda2", Mountpoint: "/", Fstype: "btrfs", Opts: []string{"rw", "subvol=/@"}},
				{Device: "/dev/sda2", Mountpoint: "/home", Fstype: "btrfs", Opts: []string{"rw", "subvol=/@home"}},
			},
			want: []string{"/"},
		},
		{
			name: "a mount over a mount: the top one is visible",
			parts: []disk.PartitionStat{
				{Device: "/dev/sda1", Mountpoint: "/", Fstype: "ext4"},
				{Device: "/dev/sdb1", Mountpoint: "/mnt", Fstype: "ext4"},
				{Device: "/dev/sdc1", Mountpoint: "/mnt", Fstype: "xfs"},
			},
			want: []string{"/", "/mnt"},
		},
		{
			name: "prefixes are whole path elements",
			parts: []disk.PartitionStat{
				{Device: "/dev/sdb1", Mountpoint: "/device", Fstype: "ext4"},
				{Device: "/dev/sdc1", Mountpoint: "/system", Fstype: "ext4"},
				{Device: "/dev/sdd1", Mountpoint: "/var/lib/dockerdata", Fstype: "ext4"},
			},
			want: []string{"/device", "/system", "/var/lib/dockerdata"},
		},
		{name: "none", parts: nil, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range filterPartitions(tc.parts) {
				got = append(got, p.Mountpoint)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
		})
	}
	// The top one of two mounts on one mountpoint is the one kept.
	got := filterPartitions([]disk.PartitionStat{
		{Device: "/dev/sdb1", Mountpoint: "/mnt", Fstype: "ext4"},
		{Device: "/dev/sdc1", Mountpoint: "/mnt", Fstype: "xfs"},
	})
	if len(got) != 1 || got[0].Device != "/dev/sdc1" {
		t.Errorf("mount over a mount kept %v, want /dev/sdc1", got)
	}
}

func TestDiskUsage(t *testing.T) {
	p := disk.PartitionStat{Device: "/dev/vda", Mountpoint: "/", Fstype: "ext4"}
	for _, tc := range []struct {
		name    string
		u       disk.UsageStat
		want    *fleetv1.DiskUsage
		wantErr error
	}{
		{
			name: "root reserve left out of the share",
			u:    disk.UsageStat{Total: 1000, Used: 450, Free: 450},
			want: &fleetv1.DiskUsage{Mountpoint: "/", Device: "/dev/vda", Fstype: "ext4", TotalBytes: 1000, UsedBytes: 450, FreeBytes: 450, UsedPercent: 50},
		},
		{
			name: "full for users",
			u:    disk.UsageStat{Total: 1000, Used: 950},
			want: &fleetv1.DiskUsage{Mountpoint: "/", Device: "/dev/vda", Fstype: "ext4", TotalBytes: 1000, UsedBytes: 950, UsedPercent: 100},
		},
		{name: "no blocks", u: disk.UsageStat{}, want: nil},
		{name: "used above total", u: disk.UsageStat{Total: 10, Used: 11}, wantErr: errBadDiskUsage},
		{name: "used plus free above total", u: disk.UsageStat{Total: 10, Used: 5, Free: 6}, wantErr: errBadDiskUsage},
		{name: "free would overflow the sum", u: disk.UsageStat{Total: 10, Used: 5, Free: ^uint64(0)}, wantErr: errBadDiskUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := diskUsage(p, &tc.u)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("diskUsage = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDiskCounters(t *testing.T) {
	stats := make(map[string]disk.IOCountersStat)
	for _, name := range []string{
		"sda", "sda1", "sdaa", "sdaa12", "vda", "vda1", "xvda", "xvda1", "hda", "hda2",
		"nvme0n1", "nvme0n1p1", "nvme10n2p3", "mmcblk0", "mmcblk0p1",
		"dm-0", "md0", "md127p1", "loop0", "loop12", "zram0", "ram0", "fd0",
		"sr0", "nbd0",
	} {
		stats[name] = disk.IOCountersStat{Name: name, ReadBytes: 512, WriteBytes: 1024}
	}
	got := slices.Sorted(maps.Keys(diskCounters(stats)))
	want := []string{"hda", "mmcblk0", "nbd0", "nvme0n1", "sda", "sdaa", "sr0", "vda", "xvda"}
	if !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
	if c := diskCounters(stats)["sda"]; c != (ioCounter{in: 512, out: 1024}) {
		t.Errorf("sda counters = %+v", c)
	}
}
