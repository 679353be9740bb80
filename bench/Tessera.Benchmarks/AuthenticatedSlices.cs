using System.Diagnostics;
using System.Globalization;

namespace Tessera.Benchmarks;

/// <summary>
/// The <c>authenticated-slices</c> mode: <see cref="AuthenticatedRequestBenchmarks"/>'s request, Tessera's handler
/// against the core's (<c>bench/core.patch</c> in process), in one process, taking turns in short slices, so that a
/// change of the machine's speed during the run (on a shared VM, several per cent within a minute) falls on every
/// configuration alike instead of on whichever ran in that minute. Prints the mean time and the bytes allocated per
/// request of each configuration and their distance to the core.
/// </summary>
/// <remarks>
/// <para>
/// Usage: <c>authenticated-slices [--credential cookie|bearer] [--seconds S] [--slice N]</c>; defaults: the cookie, 40
/// seconds of measured slices after a warm-up of 100,000 requests per configuration, 20,000 requests per slice. A full
/// garbage collection runs before every slice, so one configuration's garbage is not collected in another's time. The
/// bytes are the process's (<c>GC.GetTotalAllocatedBytes</c>), so the host's own background work counts too: it is
/// idle here, a few bytes per slice.
/// </para>
/// <para>
/// <see cref="Variants"/> is empty here; a measurement patch adds configurations of Tessera with a part switched off
/// (<c>bench/guarantees-off.patch</c> adds three), each switched on only for its own slices.
/// </para>
/// </remarks>
public static class AuthenticatedSlices
{
    /// <summary>
    /// Further configurations of Tessera's handler: a name and a switch, turned on before each of its slices and off
    /// after. Empty unless a measurement patch adds some.
    /// </summary>
    public static readonly List<(string Name, Action<bool> Switch)> Variants = [];

    private const int WarmUpRequests = 100_000;

    /// <summary>Runs the mode.</summary>
    /// <param name="args">The options after the mode's name.</param>
    /// <returns>0, or 2 for an unknown option.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var credential = "cookie";
        var seconds = 40.0;
        var slice = 20_000;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--credential" when i + 1 < args.Length && args[i + 1] is "cookie" or "bearer":
                    credential = args[++i];
                    break;
                case "--seconds" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var s) && s > 0:
                    seconds = s;
                    i++;
                    break;
                case "--slice" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var n) && n > 0:
                    slice = n;
                    i++;
                    break;
                default:
                    Console.Error.WriteLine("usage: authenticated-slices [--credential cookie|bearer] [--seconds S] [--slice N]");
                    return 2;
            }
        }

        var tessera = new AuthenticatedRequestBenchmarks { Handler = "tessera", Credential = credential };
        var core = new AuthenticatedRequestBenchmarks { Handler = "core", Credential = credential };
        tessera.Setup();
        core.Setup();
        try
        {
            List<(string Name, AuthenticatedRequestBenchmarks Bench, Action<bool>? Switch)> configurations =
                [("tessera", tessera, null), .. Variants.Select(v => (v.Name, tessera, (Action<bool>?)v.Switch)), ("core", core, null)];
            Console.WriteLine($"authenticated-slices: GET /me with a {credential}, {configurations.Count} configurations taking turns, {slice:N0} requests per slice, {seconds:N0} s.");
            foreach (var configuration in configurations)
            {
                await RunSliceAsync(configuration.Bench, configuration.Switch, WarmUpRequests);
            }
            var elapsed = new double[configurations.Count];
            var bytes = new long[configurations.Count];
            var requests = new long[configurations.Count];
            var total = Stopwatch.StartNew();
            while (total.Elapsed.TotalSeconds < seconds)
            {
                for (var k = 0; k < configurations.Count; k++)
                {
                    GC.Collect();
                    var before = GC.GetTotalAllocatedBytes(precise: true);
                    var start = Stopwatch.GetTimestamp();
                    await RunSliceAsync(configurations[k].Bench, configurations[k].Switch, slice);
                    elapsed[k] += Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                    bytes[k] += GC.GetTotalAllocatedBytes(precise: true) - before;
                    requests[k] += slice;
                }
            }
            var coreIndex = configurations.Count - 1;
            var coreMicros = elapsed[coreIndex] / requests[coreIndex];
            var coreBytes = (double)bytes[coreIndex] / requests[coreIndex];
            Console.WriteLine($"{"configuration",-24} {"µs/request",10} {"- core",8} {"B/request",10} {"- core",8}");
            for (var k = 0; k < configurations.Count; k++)
            {
                var micros = elapsed[k] / requests[k];
                var perRequest = (double)bytes[k] / requests[k];
                Console.WriteLine($"{configurations[k].Name,-24} {micros,10:F3} {micros - coreMicros,8:+0.000;-0.000;0} {perRequest,10:F0} {perRequest - coreBytes,8:+0;-0;0}");
            }
            return 0;
        }
        finally
        {
            tessera.Cleanup();
            core.Cleanup();
        }
    }

    private static async Task RunSliceAsync(AuthenticatedRequestBenchmarks bench, Action<bool>? toggle, int count)
    {
        toggle?.Invoke(true);
        try
        {
            for (var i = 0; i < count; i++)
            {
                await bench.Request();
            }
        }
        finally
        {
            toggle?.Invoke(false);
        }
    }
}
