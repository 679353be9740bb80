using Microsoft.Extensions.Time.Testing;

namespace Tessera.Testing;

/// <summary>
/// What the suites that drive stores directly (without a test server) share: the test's clock and its kit, which makes
/// the test's stores on that clock and disposes them, and itself, when the test ends.
/// </summary>
/// <typeparam name="TKit">The store's kit.</typeparam>
public abstract class StoreKitTests<TKit> : IAsyncDisposable
    where TKit : StoreKit, new()
{
    /// <summary>The clock every store of the test runs on; tests move it and never sleep.</summary>
    protected FakeTimeProvider Clock { get; } = new(TestClock.Start);

    /// <summary>The kit that makes this test's stores; disposed (with every store it made) when the test ends.</summary>
    protected TKit Kit { get; } = new();

    /// <summary>Creates an empty store on <see cref="Clock"/> through <see cref="Kit"/>, isolated from every other store it returned.</summary>
    /// <returns>The store; the kit disposes it when the test ends.</returns>
    protected ISessionStore CreateStore() => Kit.CreateStore(Clock);

    /// <summary>Disposes the kit, and with it every store the test made.</summary>
    /// <returns>A task.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        await Kit.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
