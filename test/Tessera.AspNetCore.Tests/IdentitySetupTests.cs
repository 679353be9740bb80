using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace Tessera.AspNetCore.Tests;

/// <summary>
/// What <c>AddTesseraIdentity</c> refuses at start-up. The behaviour on every store is
/// <see cref="Testing.Identity.IdentitySecurityStampTests{TKit}"/>.
/// </summary>
public sealed class IdentitySetupTests
{
    [Fact]
    public async Task WithoutIdentitysSignInManagerTheHostFailsToStartNamingIt()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(services =>
        {
            services.AddTessera(o => o.Keys.Add(SigningKeyRing.GenerateBase64Key()));
            services.AddIdentityCore<IdentityUser>().AddEntityFrameworkStores<IdentityDbContext>();
        }));

        Assert.Contains("SignInManager<IdentityUser>, which is not registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAddTesseraTheHostFailsToStart()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(services =>
            services.AddIdentityCore<IdentityUser>().AddEntityFrameworkStores<IdentityDbContext>().AddSignInManager()));

        Assert.Contains("call services.AddTessera() too", error.Message, StringComparison.Ordinal);
    }

    private static async Task StartAsync(Action<IServiceCollection> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddDbContext<IdentityDbContext>(o => o.UseSqlite("Data Source=:memory:"));
        configure(builder.Services);
        builder.Services.AddTesseraIdentity<IdentityUser>();
        await using var app = builder.Build();
        await app.StartAsync();
    }
}
