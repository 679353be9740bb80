using Microsoft.Extensions.DependencyInjection;
using Tessera.NearCache;

namespace Tessera.Testing;

/// <summary>
/// What the conformance suites need to know about a store: how to create an empty one on the test's clock, which optional
/// capabilities it has, and how to clean up after a test. Derive one kit per store (with a public parameterless
/// constructor) and wire it to each suite with one line, such as
/// <c>public sealed class MyStoreTests : SessionStoreConformanceTests&lt;MyStoreKit&gt;;</c>.
/// </summary>
/// <remarks>
/// Every test gets a kit of its own, made when the test class is constructed and disposed when the test ends; the kit
/// disposes every store it created (newest first) and then its own resources (<see cref="DisposeCoreAsync"/>). What tests
/// share, such as a database server, lives outside the kit (a static, lazily started resource). The capabilities default
/// to "has it"; a store without one overrides the property with <see langword="false"/>, and the tests of that capability
/// then pass without running: a gap is always declared, never silent.
/// </remarks>
public abstract class StoreKit : IAsyncDisposable
{
    private readonly List<object> _created = [];
    private bool _disposed;

    /// <summary>
    /// Whether the store implements <see cref="ISessionStoreCleanup"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> only for a store that expires records by itself (the cleanup tests then do not run).
    /// </summary>
    public virtual bool SupportsCleanup => true;

    /// <summary>
    /// Whether the store implements <see cref="ISessionStoreCounter"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> to declare that it cannot count (the counting tests then do not run).
    /// </summary>
    public virtual bool SupportsCounting => true;

    /// <summary>
    /// Whether the store implements <see cref="ISubjectSessionIndex"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> to declare that it cannot list by subject (those tests then do not run).
    /// </summary>
    public virtual bool SupportsSubjectIndex => true;

    /// <summary>
    /// Whether the store honours <see cref="StoreShape.MaxSessions"/> and <see cref="StoreShape.CapacityPolicy"/>. Default
    /// <see langword="true"/>; override with <see langword="false"/> to declare an unbounded store (the capacity tests then
    /// do not run).
    /// </summary>
    public virtual bool SupportsCapacityBound => true;

    /// <summary>
    /// Whether the store implements <see cref="ISessionStoreAdministration"/>. Default <see langword="true"/>; override
    /// with <see langword="false"/> to declare that it cannot (those tests then do not run).
    /// </summary>
    public virtual bool SupportsAdministration => true;

    /// <summary>
    /// Whether the store implements <see cref="ISubjectSessionLimiter"/>. Default <see langword="true"/>; override with
    /// <see langword="false"/> to declare that it cannot (those tests then do not run).
    /// </summary>
    public virtual bool SupportsSubjectLimit => true;

    /// <summary>
    /// What the store does at its anonymous bound (<see cref="StoreShape.MaxAnonymousSessions"/>), for
    /// <see cref="AnonymousBoundConformanceTests{TKit}"/>; <see langword="null"/> (the default) for a store without one,
    /// which must not run that suite.
    /// </summary>
    public virtual AnonymousBoundBehavior? AnonymousBound => null;

    /// <summary>
    /// Whether a store with an anonymous bound also bounds all its sessions (honours <see cref="StoreShape.MaxSessions"/>
    /// next to <see cref="StoreShape.MaxAnonymousSessions"/>). Default <see langword="false"/>.
    /// </summary>
    public virtual bool HasTotalBound => false;

    /// <summary>
    /// How far the clock must move before the store counts its anonymous sessions again; zero (the default) for a store
    /// that counts them exactly on every create.
    /// </summary>
    public virtual TimeSpan AnonymousCountInterval => TimeSpan.Zero;

    /// <summary>
    /// How many mutated cookies and tokens <see cref="HostileInputConformanceTests{TKit}"/> sends (the
    /// <c>TESSERA_FUZZ_COUNT</c> environment variable overrides it). Default 2,000.
    /// </summary>
    public virtual int HostileMutationCount => 2_000;

    /// <summary>
    /// Creates an empty store on <paramref name="clock"/>, isolated from every other store this kit returned; the kit
    /// disposes it (if it is disposable) when the test ends.
    /// </summary>
    /// <param name="clock">The test's clock: the store must take its time from it, never from the system clock.</param>
    /// <param name="shape">The bounds the test asks for; <see langword="null"/> for <see cref="StoreShape.Default"/>.</param>
    /// <returns>The store.</returns>
    public ISessionStore CreateStore(TimeProvider clock, StoreShape? shape = null) =>
        Track(Create(clock ?? throw new ArgumentNullException(nameof(clock)), shape ?? StoreShape.Default));

    /// <summary>
    /// For <see cref="NearCacheConformanceTests{TKit}"/>: creates a store on <paramref name="clock"/> over the data every
    /// store this method returned during the test shares (the same database and key prefix, a new connection). The kit
    /// disposes it when the test ends. Throws <see cref="NotSupportedException"/> unless overridden.
    /// </summary>
    /// <param name="clock">The test's clock.</param>
    /// <returns>The store; it must implement every optional store interface.</returns>
    public ISessionStore CreateSharedStore(TimeProvider clock) =>
        Track(CreateShared(clock ?? throw new ArgumentNullException(nameof(clock))));

    /// <summary>
    /// For <see cref="NearCacheConformanceTests{TKit}"/>: the store's real invalidation channel (Redis pub/sub,
    /// PostgreSQL LISTEN/NOTIFY). Throws <see cref="NotSupportedException"/> unless overridden.
    /// </summary>
    /// <param name="store">A store made by <see cref="CreateSharedStore"/>.</param>
    /// <returns>The channel.</returns>
    public virtual ISessionInvalidationChannel CreateChannel(ISessionStore store) =>
        throw new NotSupportedException($"{GetType().Name} has no invalidation channel: override CreateChannel to run the near cache suite.");

    /// <summary>
    /// Registers services the store needs in every server an HTTP suite starts (after Tessera's). Does nothing by default;
    /// a store that reaches the request, like the cookie store, adds <c>AddHttpContextAccessor()</c> here.
    /// </summary>
    /// <param name="services">The server's services.</param>
    public virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>Wraps a store in a near cache and waits until its channel listens, for kits whose stores sit behind a near cache.</summary>
    /// <param name="store">The store.</param>
    /// <param name="channel">Its channel.</param>
    /// <param name="clock">The store's clock.</param>
    /// <param name="options">The options; <see langword="null"/> keeps the defaults.</param>
    /// <param name="metrics">Where to count; <see langword="null"/> uses the shared meter.</param>
    /// <returns>The started near cache.</returns>
    public static NearCacheSessionStore StartNearCache(ISessionStore store, ISessionInvalidationChannel channel, TimeProvider clock, NearCacheOptions? options = null, TesseraMetrics? metrics = null)
    {
        var cache = new NearCacheSessionStore(store, channel, options, clock, null, metrics);
        cache.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        return cache;
    }

    /// <summary>Disposes every store the kit created, newest first, then the kit's own resources. Safe to call twice.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        object[] created;
        lock (_created)
        {
            created = [.. _created];
            _created.Clear();
        }
        for (var i = created.Length - 1; i >= 0; i--)
        {
            await DisposeStoreAsync(created[i]);
        }
        await DisposeCoreAsync();
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes <paramref name="store"/> when it is disposable (asynchronously if it can be); otherwise does nothing.</summary>
    /// <param name="store">A store, or <see langword="null"/>.</param>
    /// <returns>A task.</returns>
    public static async ValueTask DisposeStoreAsync(object? store)
    {
        switch (store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>Creates the store; see <see cref="CreateStore"/>. The kit tracks and disposes what this returns.</summary>
    /// <param name="clock">The test's clock.</param>
    /// <param name="shape">The bounds the test asks for.</param>
    /// <returns>The store.</returns>
    protected abstract ISessionStore Create(TimeProvider clock, StoreShape shape);

    /// <summary>Creates a shared store; see <see cref="CreateSharedStore"/>. Throws <see cref="NotSupportedException"/> unless overridden.</summary>
    /// <param name="clock">The test's clock.</param>
    /// <returns>The store.</returns>
    protected virtual ISessionStore CreateShared(TimeProvider clock) =>
        throw new NotSupportedException($"{GetType().Name} has no shared stores: override CreateShared to run the near cache suite.");

    /// <summary>Releases the kit's own resources (a temporary directory, a key prefix), after its stores are disposed. Does nothing by default.</summary>
    /// <returns>A task.</returns>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    private ISessionStore Track(ISessionStore store)
    {
        lock (_created)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _created.Add(store);
        }
        return store;
    }
}
