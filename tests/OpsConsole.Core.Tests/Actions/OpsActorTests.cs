using OpsConsole.Core.Accounts;
using OpsConsole.Core.Actions;

namespace OpsConsole.Core.Tests.Actions;

public sealed class OpsActorTests
{
    [Theory]
    [InlineData(OpsRoles.Engineer, OpsPermissions.View | OpsPermissions.SignOffDeployments | OpsPermissions.ManageBackends)]
    [InlineData(OpsRoles.Support, OpsPermissions.View | OpsPermissions.EditCredits | OpsPermissions.ManagePayments)]
    [InlineData(OpsRoles.Manager, OpsPermissions.View | OpsPermissions.SignOffDeployments | OpsPermissions.ApproveDeployments)]
    [InlineData("ADMIN", (OpsPermissions)127)]
    [InlineData("intruder", OpsPermissions.None)]
    [InlineData(null, OpsPermissions.None)]
    public void Each_role_holds_exactly_its_permissions(string? role, OpsPermissions expected) =>
        Assert.Equal(expected, OpsPermissionTable.For(role));

    [Fact]
    public void A_missing_permission_is_refused_as_forbidden_with_the_roles_that_may()
    {
        var manager = new OpsActor("local:3", "manager", OpsRoles.Manager, OpsPermissionTable.For(OpsRoles.Manager));

        var refusal = manager.Lacks(OpsPermissions.EditCredits);

        Assert.NotNull(refusal);
        Assert.Equal(RefusalKind.Forbidden, refusal.Kind);
        Assert.Equal("You are not allowed to edit credits: that needs the support or admin role, and you are signed in as manager.", refusal.Message);
        Assert.Null(manager.Lacks(OpsPermissions.ApproveDeployments));
    }

    [Fact]
    public void Nobody_can_do_nothing_even_with_permissions_claimed()
    {
        var anonymous = OpsActor.Nobody with { Permissions = OpsPermissionTable.For(OpsRoles.Admin) };

        Assert.False(anonymous.Can(OpsPermissions.View));
        Assert.False(anonymous.Is(""));
    }

    [Fact]
    public void Identity_is_compared_by_id_not_by_display_name()
    {
        var alice = new OpsActor("local:1", "alice", OpsRoles.Support, OpsPermissions.View);
        var otherAlice = new OpsActor("oidc:https://idp|42", "alice", OpsRoles.Support, OpsPermissions.View);

        Assert.False(alice.Is(otherAlice.Id));
        Assert.True(alice.Is("local:1"));
    }

    [Fact]
    public void A_refused_result_has_no_value_to_read()
    {
        OpsResult<int> refused = Refusal.NotFound("No such workspace.");
        OpsResult<int> done = 7;

        Assert.False(refused.Succeeded);
        Assert.Throws<InvalidOperationException>(() => refused.Value);
        Assert.True(done.Succeeded);
        Assert.Equal(7, done.Value);
    }
}
