using Tessera.Testing;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// How the HTTP suites get memory stores: a new one per call, with the full 100,000 mutations in the hostile-input
/// suite (the other stores run fewer).
/// </summary>
public sealed class InMemoryStoreKit : StoreKit
{
    public override int HostileMutationCount => 100_000;

    protected override ISessionStore Create(TimeProvider clock, StoreShape shape) => new InMemorySessionStore(clock);
}

public sealed class InMemoryHttpConformanceTests : ServerSideSessionHttpConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryTokenHttpConformanceTests : TokenHttpConformanceTests<InMemoryStoreKit>;
public sealed class InMemorySignInHttpConformanceTests : SignInHttpConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryConcurrencyConformanceTests : ConcurrencyConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryHostileInputConformanceTests : HostileInputConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryHygieneConformanceTests : HygieneConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryStoreFailureConformanceTests : StoreFailureConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryTicketStoreConformanceTests : TicketStoreConformanceTests<InMemoryStoreKit>;
public sealed class InMemoryDataProtectionKeysConformanceTests : DataProtectionKeysConformanceTests<InMemoryStoreKit>;

/// <summary>External logins (OpenID Connect against a real provider) into in-memory Tessera sessions.</summary>
public sealed class InMemoryOpenIdConnectSignInTests : Tessera.Testing.OpenIdConnect.OpenIdConnectSignInTests<InMemoryStoreKit>;

/// <summary>ASP.NET Core Identity's security stamp (real Identity on EF Core SQLite) on in-memory Tessera sessions.</summary>
public sealed class InMemoryIdentitySecurityStampTests : Tessera.Testing.Identity.IdentitySecurityStampTests<InMemoryStoreKit>;
