using Microsoft.Extensions.Time.Testing;
using BenchmarkDotNet.Attributes;
using Tessera.Testing;

namespace Tessera.Benchmarks;

/// <summary>
/// Typed values: <see cref="TesseraSession.Set{T}(string, T)"/> serializes to JSON at once and
/// <see cref="TesseraSession.Get{T}(string)"/> deserializes the stored text, with the default (web) JSON options.
/// Measured on loaded sessions, so no store call is included.
/// </summary>
[MemoryDiagnoser]
public class SerializationBenchmarks
{
    private static readonly Preferences SomePreferences = new("dark", "en-GB", 25, Newsletter: true);

    private static readonly List<CartItem> SomeCart = [.. Enumerable.Range(1, 10).Select(i => new CartItem($"SKU-{i:D5}", $"Item number {i}", i % 3 + 1, 9.99m * i))];

    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private TesseraSession _reading = null!;
    private TesseraSession _writing = null!;

    /// <summary>A loaded session holding both values, and a loaded empty one to write into.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var manager = BenchSessions.Manager(new InMemorySessionStore(_clock), _clock);
        var writer = manager.Open(null);
        writer.Set("prefs", SomePreferences);
        writer.Set("cart", SomeCart);
        var created = writer.CommitAsync().AsTask().GetAwaiter().GetResult();
        _reading = manager.Open(created.Credential);
        _reading.LoadAsync().AsTask().GetAwaiter().GetResult();
        _writing = manager.Open(BenchSessions.CreateLiveAsync(manager, _clock).GetAwaiter().GetResult());
        _writing.LoadAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Sets a small object (four properties).</summary>
    [Benchmark]
    public void SetPreferences() => _writing.Set("prefs", SomePreferences);

    /// <summary>Reads a small object back.</summary>
    [Benchmark]
    public Preferences? GetPreferences() => _reading.Get<Preferences>("prefs");

    /// <summary>Sets a cart of ten items.</summary>
    [Benchmark]
    public void SetCart() => _writing.Set("cart", SomeCart);

    /// <summary>Reads a cart of ten items back.</summary>
    [Benchmark]
    public List<CartItem>? GetCart() => _reading.Get<List<CartItem>>("cart");
}

/// <summary>A typical small session value.</summary>
public sealed record Preferences(string Theme, string Language, int PageSize, bool Newsletter);

/// <summary>One line of a shopping cart.</summary>
public sealed record CartItem(string Sku, string Name, int Quantity, decimal Price);
