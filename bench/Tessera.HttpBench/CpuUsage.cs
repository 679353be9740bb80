using System.Globalization;

namespace Tessera.HttpBench;

/// <summary>
/// CPU time from /proc, in clock ticks: the whole machine (busy = all but idle and iowait) and a set of processes (the
/// app server; the database server and its children). Read before and after a run, the differences say how many cores
/// each side kept busy, and whether the machine was saturated.
/// </summary>
internal sealed record CpuSnapshot(long MachineBusy, long MachineTotal, long Server, long Store)
{
    public static CpuSnapshot Take(int serverPid, IReadOnlyList<int> storeRoots) =>
        new(ReadMachineBusy(out var total), total, ProcessTicks(serverPid), storeRoots.Sum(TreeTicks));

    /// <summary>
    /// Cores kept busy between two snapshots: the machine, the server, the store, wrk (<paramref name="wrkTicks"/>, its
    /// CPU time over the same interval), and the rest.
    /// </summary>
    public static CpuShare Between(CpuSnapshot before, CpuSnapshot after, long wrkTicks)
    {
        var cores = Environment.ProcessorCount;
        var elapsed = (after.MachineTotal - before.MachineTotal) / (double)cores;
        if (elapsed <= 0)
        {
            return new CpuShare(0, 0, 0, 0);
        }
        double Cores(long ticks) => ticks / elapsed;
        return new CpuShare(Cores(after.MachineBusy - before.MachineBusy), Cores(after.Server - before.Server), Cores(after.Store - before.Store), Cores(wrkTicks));
    }

    private static long ReadMachineBusy(out long total)
    {
        // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        total = ticks.Sum();
        return total - ticks[3] - ticks[4];
    }

    /// <summary>utime + stime of a process (all its threads), 0 when it is gone.</summary>
    public static long ProcessTicks(int pid) => ReadStat(pid) is { } stat ? stat.Ticks : 0;

    /// <summary>A process and its direct children: PostgreSQL's postmaster and its backends.</summary>
    private static long TreeTicks(int root)
    {
        long sum = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && (pid == root || stat.Parent == root))
            {
                sum += stat.Ticks;
            }
        }
        return sum;
    }

    private static (int Parent, long Ticks)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) state ppid ... utime stime ...": comm may hold spaces and parentheses, so split after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[1], CultureInfo.InvariantCulture),
            long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
    }
}

/// <summary>Average cores busy during a run.</summary>
internal sealed record CpuShare(double Machine, double Server, double Store, double Wrk)
{
    /// <summary>What is left: the kernel's own work, and anything else running on the machine.</summary>
    public double Rest => Math.Max(0, Machine - Server - Store - Wrk);
}
