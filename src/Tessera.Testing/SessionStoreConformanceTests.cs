using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The store conformance suite: inherit it in a test class, implement <see cref="CreateStore"/>, and every store
/// behaviour Tessera relies on is tested against your store.
/// </summary>
public abstract class SessionStoreConformanceTests
{
    /// <summary>The clock every store made by <see cref="CreateStore"/> must use; tests move it.</summary>
    protected ManualTimeProvider Clock { get; } = new();

    /// <summary>
    /// Creates an empty store on <see cref="Clock"/>, isolated from every other store this method returned.
    /// </summary>
    /// <param name="maxSessions">The store's size bound; 0 means the store's default (or unbounded).</param>
    /// <param name="policy">What the store does at its bound.</param>
    /// <returns>The store. If it is <see cref="IDisposable"/> or <see cref="IAsyncDisposable"/>, the suite does not dispose it; the derived class may.</returns>
    protected abstract ISessionStore CreateStore(int maxSessions = 0, StoreCapacityPolicy policy = StoreCapacityPolicy.EvictLeastRecentlyUsed);
}
