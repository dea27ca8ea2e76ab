# Data residency: a tenant whose region has a residency rule may only reach
# upstreams labelled with one of that rule's regions. An unlabelled upstream
# is treated as being nowhere, so it is refused.
package gateway.authz

deny_reasons contains msg if {
	sends_data
	rule := data.gateway.residency[region]
	upstream_region := object.get(upstream_labels, "region", "unlabelled")
	not upstream_region in rule.upstream_regions
	msg := sprintf("data of tenants in region %s must stay in %s; upstream %s is %s", [region, concat(", ", rule.upstream_regions), upstream_name, upstream_region])
}
