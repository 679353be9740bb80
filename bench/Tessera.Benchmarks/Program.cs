using BenchmarkDotNet.Running;
using Tessera.Benchmarks;

// Five measuring modes come first; anything else goes to BenchmarkDotNet's switcher, for example
//   dotnet run -c Release --project bench/Tessera.Benchmarks -- --filter '*' --job short
switch (args.FirstOrDefault())
{
    case "memory-overhead":
        return await MemoryOverhead.RunAsync(args[1..]);
    case "cleanup-under-load":
        return await CleanupUnderLoad.RunAsync(args[1..]);
    case "request-allocations":
        return RequestAllocations.Run();
    case "authenticated-slices":
        return await AuthenticatedSlices.RunAsync(args[1..]);
    case "concurrent-reads":
        return await ConcurrentReads.RunAsync(args[1..]);
    default:
        if (BenchStores.LeftOutNotice() is { Length: > 0 } notice)
        {
            Console.WriteLine($"StoreBenchmarks: {notice} Set them to benchmark those stores too.");
        }
        BenchmarkSwitcher.FromAssembly(typeof(BenchStores).Assembly).Run(args);
        return 0;
}
