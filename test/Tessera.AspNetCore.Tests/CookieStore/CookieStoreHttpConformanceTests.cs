using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore.CookieStore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.CookieStore;

/// <summary>The stateless cookie store through the part of the HTTP suite every store must pass.</summary>
public sealed class CookieStoreHttpConformanceTests : SessionHttpConformanceTests
{
    protected override ISessionStore CreateStore() => new CookieSessionStore(new HttpContextAccessor(), timeProvider: Clock);

    protected override void ConfigureServices(IServiceCollection services) => services.AddHttpContextAccessor();
}

/// <summary>
/// The cookie store with a revocation store (the in-memory store) through the suite for stores that can end a session
/// on the server: old cookies die after sign-in, regenerate, destroy and revoke by id.
/// </summary>
public sealed class CookieStoreWithRevocationHttpConformanceTests : RevocableSessionHttpConformanceTests
{
    protected override ISessionStore CreateStore() =>
        new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = new InMemorySessionStore(Clock) }, Clock);

    protected override void ConfigureServices(IServiceCollection services) => services.AddHttpContextAccessor();
}

/// <summary>The cookie store's refusal of replayed older cookies, with the in-memory store as its revocation store.</summary>
public sealed class CookieStoreRollbackWithInMemoryRevocationsTests : CookieStoreRollbackConformanceTests
{
    protected override ISessionStore CreateRevocationStore() => new InMemorySessionStore(Clock);
}
