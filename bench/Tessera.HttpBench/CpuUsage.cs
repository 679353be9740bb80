using System.Globalization;

namespace Tessera.HttpBench;

/// <summary>
/// CPU time from /proc, in clock ticks: the whole machine (busy = all but idle and iowait) and a set of processes (the
/// app server; the database server and its children). Read before and after a run, the differences say how many cores
/// each side kept busy, and whether the machine was saturated.
/// </summary>
internal sealed record CpuSnapshot(long MachineBusy, long MachineTotal, long MachineInterrupts, long Server, IReadOnlyDictionary<int, long> Store)
{
    public static CpuSnapshot Take(int serverPid, IReadOnlyList<int> storeRoots) =>
        new(ReadMachineBusy(out var total, out var interrupts), total, interrupts, ProcessTicks(serverPid), TreeTicks(storeRoots));

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
            return new CpuShare(0, 0, 0, 0, 0);
        }
        double Cores(long ticks) => ticks / elapsed;
        // Per process: a backend that started during the run counts whole; one that ended is lost (never negative).
        var store = after.Store.Sum(p => p.Value - before.Store.GetValueOrDefault(p.Key));
        return new CpuShare(Cores(after.MachineBusy - before.MachineBusy), Cores(after.Server - before.Server), Cores(store), Cores(wrkTicks),
            Cores(after.MachineInterrupts - before.MachineInterrupts));
    }

    /// <summary>
    /// Cores the whole machine kept busy over <paramref name="interval"/>, and the busiest process then (its command
    /// line, shortened), to say who kept the machine from being idle.
    /// </summary>
    public static async Task<(double Cores, string Busiest)> MachineBusyAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        var busy = ReadMachineBusy(out var total, out _);
        var processes = AllProcessTicks();
        await Task.Delay(interval, cancellationToken);
        var busyAfter = ReadMachineBusy(out var totalAfter, out _);
        if (totalAfter == total)
        {
            return (0, "");
        }
        var perCore = (totalAfter - total) / (double)Environment.ProcessorCount;
        var (pid, ticks) = AllProcessTicks().Select(p => (p.Key, p.Value - processes.GetValueOrDefault(p.Key))).MaxBy(p => p.Item2);
        string busiest;
        try
        {
            var command = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
            busiest = string.Create(CultureInfo.InvariantCulture, $"{(command.Length > 90 ? command[..90] + "..." : command)} (pid {pid}, {ticks / perCore:0.00} cores)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            busiest = $"pid {pid}";
        }
        return ((busyAfter - busy) / perCore, busiest);
    }

    private static Dictionary<int, long> AllProcessTicks()
    {
        var ticks = new Dictionary<int, long>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && ReadStat(pid) is { } stat)
            {
                ticks[pid] = stat.Ticks;
            }
        }
        return ticks;
    }

    private static long ReadMachineBusy(out long total, out long interrupts)
    {
        // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user. Interrupt
        // time (irq, softirq: much of the loopback TCP work) is charged to no process.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        total = ticks.Sum();
        interrupts = ticks[5] + ticks[6];
        return total - ticks[3] - ticks[4];
    }

    /// <summary>utime + stime of a process (all its threads), 0 when it is gone.</summary>
    public static long ProcessTicks(int pid) => ReadStat(pid) is { } stat ? stat.Ticks : 0;

    /// <summary>CPU ticks of each root and its direct children: PostgreSQL's postmaster and its backends.</summary>
    private static Dictionary<int, long> TreeTicks(IReadOnlyList<int> roots)
    {
        var ticks = new Dictionary<int, long>();
        if (roots.Count == 0)
        {
            return ticks;
        }
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && ReadStat(pid) is { } stat && (roots.Contains(pid) || roots.Contains(stat.Parent)))
            {
                ticks[pid] = stat.Ticks;
            }
        }
        return ticks;
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
/// <remarks>
/// <see cref="Interrupts"/> (irq and softirq, much of it loopback TCP) is also charged to whichever process was
/// interrupted, so it overlaps the other shares and is not subtracted from the rest.
/// </remarks>
internal sealed record CpuShare(double Machine, double Server, double Store, double Wrk, double Interrupts)
{
    /// <summary>What is left: anything else running on the machine (other programs, kernel threads).</summary>
    public double Rest => Math.Max(0, Machine - Server - Store - Wrk);
}
