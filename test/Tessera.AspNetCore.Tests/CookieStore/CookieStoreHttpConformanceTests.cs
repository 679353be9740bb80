using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tessera.AspNetCore.CookieStore;
using Tessera.Testing;

namespace Tessera.AspNetCore.Tests.CookieStore;

/// <summary>The stateless cookie store: the session lives in the cookie, so the servers need the request (an HttpContext accessor).</summary>
public class CookieStoreKit : StoreKit
{
    public override void ConfigureServices(IServiceCollection services) => services.AddHttpContextAccessor();

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) => new CookieSessionStore(new HttpContextAccessor(), timeProvider: clock);
}

/// <summary>The cookie store with a revocation store (the in-memory store), so it can end a session on the server.</summary>
public sealed class CookieStoreWithRevocationKit : CookieStoreKit
{
    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) =>
        new CookieSessionStore(new HttpContextAccessor(), new CookieSessionStoreOptions { RevocationStore = new InMemorySessionStore(clock) }, clock);
}

/// <summary>The stateless cookie store through the part of the HTTP suite every store must pass.</summary>
public sealed class CookieStoreHttpConformanceTests : SessionHttpConformanceTests<CookieStoreKit>;

/// <summary>With a revocation store, the suite for stores that can end a session on the server: old cookies die after sign-in, regenerate, destroy and revoke by id.</summary>
public sealed class CookieStoreWithRevocationHttpConformanceTests : RevocableSessionHttpConformanceTests<CookieStoreWithRevocationKit>;

/// <summary>The cookie store's refusal of replayed older cookies, with the in-memory store as its revocation store.</summary>
public sealed class CookieStoreRollbackWithInMemoryRevocationsTests : CookieStoreRollbackConformanceTests<InMemoryStoreKit>;
